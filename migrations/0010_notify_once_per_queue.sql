-- 0010_notify_once_per_queue: the NOTIFY trigger queues one event per queue
-- per transaction, not one per row.
--
-- jobs_notify is a deferred constraint trigger: until now every inserted row
-- queued an event that ran the trigger function at commit, where all but the
-- first of each queue returned at once (notify_sent). A bulk enqueue of
-- 100,000 rows ran it 100,000 times, about a tenth of the insert's CPU. A
-- constraint trigger's WHEN condition is evaluated when the row is inserted,
-- and a row whose condition is false queues no event at all. The condition
-- below is true for the first row of each queue in a transaction (it notes
-- the queue in the transaction-local setting notify_queued as it goes), so
-- the function still runs at commit, once per queue, as before. A savepoint
-- rolled back takes back both the row's event and the note.
DROP TRIGGER jobs_notify ON @schema@.jobs;
CREATE CONSTRAINT TRIGGER jobs_notify AFTER INSERT ON @schema@.jobs
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW
  WHEN (position(',' || NEW.queue || ','
                 IN coalesce(current_setting('@schema@.notify_queued', true), '')) = 0
        AND set_config('@schema@.notify_queued',
                       coalesce(current_setting('@schema@.notify_queued', true), '')
                         || ',' || NEW.queue || ',', true) IS NOT NULL)
  EXECUTE FUNCTION @schema@.jobs_notify();
