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
-- read of idle_queues 9 µs (README, "Performance", "Idle gate").
--
-- idle_gate holds a bit for each of 64 buckets of queue names (the bucket
-- is hashtext(queue) & 63): the bit is set while a worker may be idle on a
-- queue of that bucket. It is an unlogged sequence because its value is
-- read without a snapshot by a plain function call (pg_sequence_last_value),
-- which PL/pgSQL evaluates without planning a query, and because it must
-- start empty again with idle_workers (unlogged) after a crash.
--  - Set: a row written to idle_workers sets its bucket's bit, under the
--    advisory lock below, before the row commits; an enqueue whose check
--    runs after that commit sees the bit. A BEFORE trigger, so that a mark
--    that finds its row already there (ON CONFLICT DO NOTHING) sets the
--    bit too.
--  - Cleared: a DELETE from idle_workers outside a trigger (a worker found
--    work, stopped or was pruned; or a DELETE by hand) recomputes the gate
--    from the rows that remain, under the same lock. A writer of a new row
--    takes the lock before its row exists, so the recompute either sees the
--    committed row or runs before the bit is set. Only in
--    READ COMMITTED: at a stricter level the transaction's snapshot may
--    miss rows committed meanwhile, and clearing their bits would lose
--    wake-ups; such a DELETE leaves the gate as it is. The DELETE of a
--    wake-up (inside the enqueue's trigger) does not recompute: producers
--    never wait on the lock. The woken worker's next claim writes its mark
--    again (idle or busy), and a busy mark recomputes.
-- A bit that stays set (a rolled-back mark, two queues in one bucket)
-- costs the enqueue the read of idle_queues, as before this migration. A
-- bit can be clear while a committed row is in its bucket only after a
-- DELETE that recomputed and then rolled back (setval is not undone): the
-- worker whose busy mark failed writes its mark again at its next claim
-- (and sets the bit if it is idle); a worker's poll finds jobs meanwhile.
--
-- The trigger has no WHEN condition any more, and the function writes the
-- setting (the transaction's last queue looked at), at commit, only for a
-- queue whose bit is set: a single-row transaction into a busy queue
-- writes no setting. A condition that only read the setting would be
-- true for every row but those inserted after a SET CONSTRAINTS ...
-- IMMEDIATE, and PostgreSQL compiles it again for every statement: with
-- it, 87-88 % of the rate without the trigger (synchronous_commit off),
-- 92 % with it on; without it 91-92 % and 93 % (README, "Idle gate"). A
-- statement that inserts many rows runs the function at
-- commit once per row (the bit test, about 1-2 µs each), and reads
-- idle_queues once per change of queue past a set bit.
--
-- Rights: reading the sequence takes SELECT on it. grant_roles (replaced
-- whole below, the one change being that grant) gives it to the producer
-- role, and every role that could read idle_queues (the README's list for
-- a role of one's own, migration 0019) gets it here: a role without it
-- fails every enqueue with "permission denied for sequence idle_gate", not
-- only those made while a worker is idle.
CREATE UNLOGGED SEQUENCE @schema@.idle_gate
  MINVALUE -9223372036854775808 MAXVALUE 9223372036854775807 START 0 NO CYCLE;
REVOKE ALL ON SEQUENCE @schema@.idle_gate FROM PUBLIC;

CREATE FUNCTION @schema@.idle_gate_open() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('@schema@.idle_gate'));
  PERFORM setval('@schema@.idle_gate',
                 coalesce(pg_sequence_last_value('@schema@.idle_gate'), 0)
                   | (1::bigint << (hashtext(NEW.queue) & 63)), true);
  RETURN NEW;
END;
$$;
REVOKE ALL ON FUNCTION @schema@.idle_gate_open() FROM PUBLIC;

-- The bits of the rows there are now (read by a new statement: its snapshot
-- sees every row committed before the caller got the lock), written only
-- when they differ.
CREATE FUNCTION @schema@.idle_gate_recompute() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  bits bigint;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('@schema@.idle_gate'));
  bits := coalesce((SELECT bit_or(1::bigint << (hashtext(queue) & 63))
                    FROM @schema@.idle_workers), 0);
  IF bits IS DISTINCT FROM pg_sequence_last_value('@schema@.idle_gate') THEN
    PERFORM setval('@schema@.idle_gate', bits, true);
  END IF;
  RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION @schema@.idle_gate_recompute() FROM PUBLIC;

CREATE TRIGGER idle_workers_gate_open BEFORE INSERT ON @schema@.idle_workers
  FOR EACH ROW EXECUTE FUNCTION @schema@.idle_gate_open();
-- Depth 0: not the DELETE of wake_idle_workers() inside the enqueue's
-- trigger (evaluated when the DELETE queues the event, at its depth).
CREATE TRIGGER idle_workers_gate_recompute AFTER DELETE ON @schema@.idle_workers
  FOR EACH STATEMENT WHEN (pg_trigger_depth() = 0)
  EXECUTE FUNCTION @schema@.idle_gate_recompute();

-- The first value, read after the triggers exist: CREATE TRIGGER holds a
-- lock that makes new idle rows wait for this migration's commit (then
-- they set their bits), and this statement sees every row committed before.
SELECT setval('@schema@.idle_gate',
              coalesce((SELECT bit_or(1::bigint << (hashtext(queue) & 63))
                        FROM @schema@.idle_workers), 0), true);

CREATE OR REPLACE FUNCTION @schema@.jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- No worker idle on a queue of this bucket: nothing to wake.
  IF (coalesce(pg_sequence_last_value('@schema@.idle_gate'), 0)
      >> (hashtext(NEW.queue) & 63)) & 1 = 0 THEN
    RETURN NULL;
  END IF;
  -- This queue was the last one looked at by this transaction.
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
  EXECUTE FUNCTION @schema@.jobs_notify();

-- Every role that may read idle_queues (granted by grant_roles or by hand)
-- now also reads the sequence.
DO $$
DECLARE
  r regrole;
BEGIN
  FOR r IN
    SELECT DISTINCT a.grantee::regrole
    FROM pg_class c, aclexplode(c.relacl) a
    WHERE c.oid = '@schema@.idle_queues'::regclass
      AND a.privilege_type = 'SELECT' AND a.grantee <> 0 AND a.grantee <> c.relowner
  LOOP
    EXECUTE format('GRANT SELECT ON SEQUENCE @schema@.idle_gate TO %s', r);
  END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION @schema@.grant_roles(create_missing boolean DEFAULT false) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s constant text := '@schema@';
  kind text;
  r text;
  granted text[] := '{}';
BEGIN
  FOREACH kind IN ARRAY ARRAY['producer', 'worker', 'admin', 'reader'] LOOP
    r := s || '_' || kind;
    IF to_regrole(quote_ident(r)) IS NULL THEN
      CONTINUE WHEN NOT create_missing;
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', s, r);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', s, r);
    EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM %I', s, r);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, r);
    EXECUTE format('GRANT SELECT ON %I.schema_migrations TO %I', s, r);
    IF kind = 'producer' THEN
      EXECUTE format('GRANT SELECT, INSERT ON %I.jobs TO %I', s, r);
      EXECUTE format('GRANT SELECT ON %I.job_history, %I.all_jobs TO %I', s, s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %I.enqueue(text, jsonb, text, integer, '
                     'timestamptz, interval, integer, interval, text), '
                     '%I.wake_idle_workers(text), %I.notify_when_done(bigint) TO %I',
                     s, s, s, r);
      EXECUTE format('GRANT SELECT ON %I.idle_queues TO %I', s, r);
      EXECUTE format('GRANT SELECT ON SEQUENCE %I.idle_gate TO %I', s, r);
    ELSIF kind = 'worker' THEN
      EXECUTE format('GRANT SELECT, UPDATE, DELETE ON %I.jobs TO %I', s, r);
      EXECUTE format('GRANT SELECT, INSERT ON %I.job_history TO %I', s, r);
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.workers, %I.idle_workers TO %I',
                     s, s, r);
      EXECUTE format('GRANT SELECT, UPDATE (held_ids, held_tokens, rate_claims) ON %I.queues '
                     'TO %I', s, r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %I.claim_allowance(text, integer), '
                     '%I.record_claims(text, bigint[], bigint), '
                     '%I.ensure_history_partitions(integer, timestamptz) TO %I', s, s, s, r);
    ELSIF kind = 'admin' THEN
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I',
                     s, r);
      EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON %I.schema_migrations FROM %I', s, r);
      EXECUTE format('REVOKE UPDATE, DELETE ON %I.audit_log FROM %I', s, r);
      EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, r);
      EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', s, r);
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %I.grant_roles(boolean) FROM %I', s, r);
    ELSE
      EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', s, r);
    END IF;
    granted := granted || r;
  END LOOP;
  RETURN granted;
END;
$$;
REVOKE ALL ON FUNCTION @schema@.grant_roles(boolean) FROM PUBLIC;


SELECT @schema@.grant_roles(false);
