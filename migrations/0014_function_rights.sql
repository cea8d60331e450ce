-- 0014_function_rights: who may call which function.
--
-- PostgreSQL lets PUBLIC execute every new function. The schema's USAGE is
-- PUBLIC's no longer (0009), but every role pgjobs grants has it, so a
-- producer or a reader could call the admin actions cancel(), cancel_job(),
-- retry() and set_queue_limits(). They run with the caller's rights, so the
-- table grants stopped them from changing anything, but a reader calling
-- retry() got "job 1 has not finished" instead of "permission denied". Now
-- only the admin role (and the schema's owner) may call them.
--
-- And notify_when_done() (0013), which a producer calls to wait for a job's
-- end (the Python module's AsyncResult.get()), is granted to the producer
-- role: grant_roles is replaced whole, the one change being that grant.
REVOKE ALL ON FUNCTION @schema@.cancel(bigint, text), @schema@.cancel_job(bigint, text),
  @schema@.retry(bigint),
  @schema@.set_queue_limits(text, boolean, integer, boolean, integer, interval) FROM PUBLIC;

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

-- The new grant, for roles that exist already.
SELECT @schema@.grant_roles(false);
