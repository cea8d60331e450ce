-- 0007_notify_when_idle: a NOTIFY only when a worker may be waiting for it.
--
-- Every NOTIFY takes a database-wide lock at commit, so concurrent enqueuing
-- transactions that notify commit one after another (8 clients inserting one
-- job per transaction reached 48 % of their rate without the trigger). A
-- worker that is busy on a queue does not need to be told: it claims again as
-- soon as it has room. So workers say when they are idle on a queue (a row
-- here), and an enqueue notifies only if a worker is idle on its queue; that
-- enqueue also takes the rows (SKIP LOCKED: producers never wait for each
-- other), so only the first enqueue after a worker went idle notifies. The
-- woken worker claims, and writes its row again if it finds the queue empty.
-- Under a steady stream of single-job transactions that is one NOTIFY per
-- worker wake-up, not one per job.
--
-- The check runs at commit (a deferred trigger), not at the INSERT: a job
-- inserted early in a long transaction, while every worker was busy, still
-- wakes a worker that went idle before the commit. A worker that goes idle
-- writes its row first and then claims once more, so a job committed just
-- before the row is found by that claim.
--
-- Unlogged: after a crash the table is empty and workers write their rows
-- again when they reconnect; until then they poll.
CREATE UNLOGGED TABLE @schema@.idle_workers (
  queue text NOT NULL,
  worker_id text NOT NULL,
  since timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, worker_id)
);

DROP TRIGGER jobs_notify ON @schema@.jobs;
DROP FUNCTION @schema@.jobs_notify();

-- Once per queue per transaction (remembered in a transaction-local
-- setting): take the idle rows of the queue and NOTIFY if there were any and
-- the queue does not have notify switched off. The payload is the queue
-- name, never the args.
CREATE FUNCTION @schema@.jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  sent text := coalesce(current_setting('@schema@.notify_sent', true), '');
  woken integer;
BEGIN
  IF position(',' || NEW.queue || ',' IN sent) > 0 THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('@schema@.notify_sent', sent || ',' || NEW.queue || ',', true);
  WITH taken AS (
    SELECT i.worker_id FROM @schema@.idle_workers i
    WHERE i.queue = NEW.queue
    FOR UPDATE SKIP LOCKED
  ), woken AS (
    DELETE FROM @schema@.idle_workers d USING taken t
    WHERE d.queue = NEW.queue AND d.worker_id = t.worker_id
    RETURNING 1
  )
  SELECT count(*) INTO woken FROM woken;
  IF woken > 0
     AND NOT EXISTS (SELECT 1 FROM @schema@.queues s WHERE s.name = NEW.queue AND NOT s.notify)
  THEN
    PERFORM pg_notify('@schema@_jobs', NEW.queue);
  END IF;
  RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER jobs_notify AFTER INSERT ON @schema@.jobs
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION @schema@.jobs_notify();
