-- 0026_idle_gate: an enqueue while no worker waits on its queue reads one
-- sequence at commit, and remembers nothing.
--
-- Until now the NOTIFY trigger's WHEN condition wrote the transaction's
-- queue into a setting (set_config), and its function read the view
-- idle_queues at commit. Measured per single-row INSERT transaction
-- (8 pgbench clients, synchronous_commit off, CPU of all PostgreSQL
-- processes): no trigger 87 µs, the trigger of 0022 113 µs; the deferred
-- call of a function that does nothing 5 µs of that, the setting 9 µs
-- (writing any setting makes PostgreSQL walk its settings at commit), the
-- read of idle_queues 9 µs (README, "Performance", "NOTIFY trigger").
--
-- idle_gate holds a bit for each of 64 buckets of queue names (the bucket
-- is hashtext(queue) & 63): the bit is set while a worker may be idle on a
-- queue of that bucket. It is an unlogged sequence because its value is
-- read without a snapshot by a plain function call (pg_sequence_last_value),
-- which PL/pgSQL evaluates without planning a query, and because it must
-- start empty again with idle_workers (unlogged) after a crash.
--  - Set: a row written to idle_workers sets its bucket's bit, under the
--    advisory lock below, before the row commits; an enqueue whose check
--    runs after that commit sees the bit.
--  - Cleared: a DELETE from idle_workers by a worker or the scheduler (a
--    worker found work, stopped or was pruned) recomputes the gate from the
--    rows that remain, under the same lock. A writer of a new row still
--    waits for the lock, so its bit is set after the recompute. Only in
--    READ COMMITTED: at a stricter level the transaction's snapshot may
--    miss rows committed meanwhile, and clearing their bits would lose
--    wake-ups; such a DELETE leaves the gate as it is. The DELETE of a
--    wake-up (inside the enqueue's trigger) does not recompute: producers
--    never wait on the lock. The woken worker's next claim writes its mark
--    again (idle or busy), and a busy mark recomputes.
-- A bit that stays set (a rolled-back mark, two queues in one bucket)
-- costs the enqueue the read of idle_queues, as before this migration; a
-- bit is never clear while a committed idle_workers row is in its bucket.
--
-- The trigger's WHEN condition now only reads the setting, and the
-- function writes it, at commit, only for a queue whose bit is set: a
-- single-row transaction into a busy queue writes no setting. A statement
-- that inserts many rows runs the function at commit once per row (the bit
-- test, about 1 µs each), and once per queue past the bit.
CREATE UNLOGGED SEQUENCE @schema@.idle_gate
  MINVALUE -9223372036854775808 MAXVALUE 9223372036854775807 START 0 NO CYCLE;
-- The bits say which buckets of queue names have an idle worker, nothing
-- more; every role that enqueues reads them.
GRANT SELECT ON SEQUENCE @schema@.idle_gate TO PUBLIC;
SELECT setval('@schema@.idle_gate',
              coalesce((SELECT bit_or(1::bigint << (hashtext(queue) & 63))
                        FROM @schema@.idle_workers), 0), true);

CREATE FUNCTION @schema@.idle_gate_open() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('@schema@.idle_gate'));
  PERFORM setval('@schema@.idle_gate',
                 coalesce(pg_sequence_last_value('@schema@.idle_gate'), 0)
                   | (1::bigint << (hashtext(NEW.queue) & 63)), true);
  RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION @schema@.idle_gate_open() FROM PUBLIC;

CREATE FUNCTION @schema@.idle_gate_recompute() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('@schema@.idle_gate'));
  -- A new statement: its snapshot sees every row committed before the lock
  -- was granted.
  PERFORM setval('@schema@.idle_gate',
                 coalesce((SELECT bit_or(1::bigint << (hashtext(queue) & 63))
                           FROM @schema@.idle_workers), 0), true);
  RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION @schema@.idle_gate_recompute() FROM PUBLIC;

CREATE TRIGGER idle_workers_gate_open AFTER INSERT ON @schema@.idle_workers
  FOR EACH ROW EXECUTE FUNCTION @schema@.idle_gate_open();
-- Depth 0: a worker's or the scheduler's own statement, not the DELETE of
-- wake_idle_workers() inside the enqueue's trigger.
CREATE TRIGGER idle_workers_gate_recompute AFTER DELETE ON @schema@.idle_workers
  FOR EACH STATEMENT WHEN (pg_trigger_depth() = 0)
  EXECUTE FUNCTION @schema@.idle_gate_recompute();

CREATE OR REPLACE FUNCTION @schema@.jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- No worker idle on a queue of this bucket: nothing to wake.
  IF (coalesce(pg_sequence_last_value('@schema@.idle_gate'), 0)
      >> (hashtext(NEW.queue) & 63)) & 1 = 0 THEN
    RETURN NULL;
  END IF;
  -- This queue was looked at already by this transaction.
  IF current_setting('@schema@.notify_queue', true) IS NOT DISTINCT FROM NEW.queue THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('@schema@.notify_queue', NEW.queue, true);
  IF EXISTS (SELECT 1 FROM @schema@.idle_queues i WHERE i.queue = NEW.queue) THEN
    PERFORM @schema@.wake_idle_workers(NEW.queue);
  END IF;
  RETURN NULL;
END;
$$;

DROP TRIGGER jobs_notify ON @schema@.jobs;
CREATE CONSTRAINT TRIGGER jobs_notify AFTER INSERT ON @schema@.jobs
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW
  WHEN (current_setting('@schema@.notify_queue', true) IS DISTINCT FROM NEW.queue)
  EXECUTE FUNCTION @schema@.jobs_notify();
