-- 0019_idle_check_before_wake: an enqueue while no worker waits on its queue
-- costs an index probe, not a call into the schema owner's function.
--
-- Since 0009 the first job of a queue in each transaction called
-- wake_idle_workers(), which runs as the schema's owner (SECURITY DEFINER)
-- so that a producer cannot read or change idle_workers. That call cost
-- more than the check inside it: single-row enqueues from 8 clients,
-- CPU-bound (synchronous_commit off), made 47-58 % of the rate without the
-- trigger, even with no worker idle anywhere, which is how a busy system
-- runs. The trigger now first asks idle_queues, a view that shows the queue
-- of each idle worker's row (never which worker it is) with the rights of
-- its owner; a plain view is read inside the trigger's own query, so the
-- check is one probe of idle_workers' primary key (77-78 % of the rate
-- without the trigger: README, "Performance"). Only when a worker is idle
-- is the owner's function called, as before.
--
-- The per-transaction check (has this transaction already woken this
-- queue?) is the trigger's WHEN clause since 0010; the function's own copy
-- of it is dropped.
CREATE VIEW @schema@.idle_queues AS
  SELECT queue FROM @schema@.idle_workers;
REVOKE ALL ON @schema@.idle_queues FROM PUBLIC;

CREATE OR REPLACE FUNCTION @schema@.jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM @schema@.idle_queues i WHERE i.queue = NEW.queue) THEN
    PERFORM @schema@.wake_idle_workers(NEW.queue);
  END IF;
  RETURN NULL;
END;
$$;

-- Every role that may wake workers (granted EXECUTE on wake_idle_workers by
-- grant_roles or by hand) may now also need to read the view: without it
-- its enqueues would fail. grant_roles (replaced whole below, the one change
-- being that grant) gives it to the producer role; the admin and reader
-- roles read every table and view of the schema.
DO $$
DECLARE
  r regrole;
BEGIN
  FOR r IN
    SELECT DISTINCT a.grantee::regrole
    FROM pg_proc p, aclexplode(p.proacl) a
    WHERE p.oid = '@schema@.wake_idle_workers(text)'::regprocedure
      AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
  LOOP
    EXECUTE format('GRANT SELECT ON @schema@.idle_queues TO %s', r);
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

-- The new grant, for the roles that exist already.
SELECT @schema@.grant_roles(false);
