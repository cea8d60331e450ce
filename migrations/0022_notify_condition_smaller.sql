-- 0022_notify_condition_smaller: the NOTIFY trigger's WHEN condition
-- remembers the last queue of the transaction instead of a list of them.
--
-- PostgreSQL reads a trigger's WHEN condition from its stored form, plans
-- and compiles it again for every statement that inserts into jobs: for a
-- single-row INSERT that is once per row. The condition of 0010 (a list of
-- the transaction's queues in the setting notify_queued: two readings of it,
-- a search, four concatenations, a write) cost more than the rest of the
-- trigger: 8 clients inserting one job per transaction, CPU-bound
-- (synchronous_commit off), made 69-78 % of their rate without the trigger,
-- and 78-81 % with a trigger of the same function and this condition, which
-- has about half as many parts (README, "Performance"). A condition that is always true still costs
-- a few percent, and no condition at all would run the function at commit
-- for every row of a bulk enqueue (1,000 rows: 9.5 ms instead of 6 ms).
--
-- The condition is true when the row's queue differs from the previous
-- row's of the same transaction (the setting notify_queue, local to the
-- transaction). A transaction that enqueues into one queue, or into several
-- one after the other, runs the function at commit once per queue, as
-- before; one that alternates between queues runs it once per change, which
-- sends nothing more (the function's first call for a queue takes its idle
-- workers; the next finds none). A savepoint rolled back takes back both
-- the row's event and the setting, as before.
DROP TRIGGER jobs_notify ON @schema@.jobs;
CREATE CONSTRAINT TRIGGER jobs_notify AFTER INSERT ON @schema@.jobs
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW
  WHEN (current_setting('@schema@.notify_queue', true) IS DISTINCT FROM NEW.queue
        AND set_config('@schema@.notify_queue', NEW.queue, true) IS NOT NULL)
  EXECUTE FUNCTION @schema@.jobs_notify();
