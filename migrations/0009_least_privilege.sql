-- 0009_least_privilege: what the producer, worker and admin roles of
-- sql/roles.sql (`pgjobs migrate --create-roles`) cannot do with their own
-- rights is done by a few functions that run as the schema's owner
-- (SECURITY DEFINER). Each pins its search_path, so that a caller cannot put
-- its own objects in front of pg_catalog's, and PUBLIC may not execute it:
-- the roles are granted EXECUTE by name.
--
-- 1. An enqueue wakes idle workers (0007): it takes and deletes their rows of
--    idle_workers and reads the queue's notify switch. A producer may insert
--    jobs but must not read or change those tables, so that part moves into
--    wake_idle_workers(). The trigger itself still runs as the enqueuing
--    role, and its per-row check (has this transaction already notified for
--    this queue?) stays as cheap as before: only the first job of a queue in
--    a transaction calls the elevated function.
CREATE FUNCTION @schema@.wake_idle_workers(queue_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  woken integer;
BEGIN
  WITH taken AS (
    SELECT i.worker_id FROM @schema@.idle_workers i
    WHERE i.queue = queue_name
    FOR UPDATE SKIP LOCKED
  ), woken AS (
    DELETE FROM @schema@.idle_workers d USING taken t
    WHERE d.queue = queue_name AND d.worker_id = t.worker_id
    RETURNING 1
  )
  SELECT count(*) INTO woken FROM woken;
  IF woken > 0
     AND NOT EXISTS (SELECT 1 FROM @schema@.queues s WHERE s.name = queue_name AND NOT s.notify)
  THEN
    PERFORM pg_notify('@schema@_jobs', queue_name);
  END IF;
END;
$$;
REVOKE ALL ON FUNCTION @schema@.wake_idle_workers(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @schema@.jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  sent text := coalesce(current_setting('@schema@.notify_sent', true), '');
BEGIN
  IF position(',' || NEW.queue || ',' IN sent) > 0 THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('@schema@.notify_sent', sent || ',' || NEW.queue || ',', true);
  PERFORM @schema@.wake_idle_workers(NEW.queue);
  RETURN NULL;
END;
$$;

-- 2. History partitions are created by whoever runs maintenance (a worker
--    or the scheduler) and dropped by the scheduler; creating and dropping
--    tables is the owner's right, so both functions run as the owner. Their
--    bodies name every object with its schema; pg_temp is kept for the
--    temporary table that moves rows out of the default partition.
ALTER FUNCTION @schema@.ensure_history_partitions(integer, timestamptz)
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @schema@.drop_history_partitions(interval)
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @schema@.ensure_history_partitions(integer, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @schema@.drop_history_partitions(interval) FROM PUBLIC;

-- 3. Nobody but the owner and the roles it grants uses the schema.
REVOKE ALL ON SCHEMA @schema@ FROM PUBLIC;

-- 4. The roles. grant_roles(create_missing) gives the group roles
--    @schema@_producer, @schema@_worker and @schema@_admin (pgjobs_producer,
--    ... for the default schema) exactly the rights below, taking back any
--    other right they had on the schema's objects; a role that does not
--    exist is created when create_missing is true (that needs CREATEROLE)
--    and skipped otherwise. The roles cannot log in: operators grant them to
--    login roles (GRANT pgjobs_worker TO app_worker). `pgjobs migrate` calls
--    it after every upgrade, so a migration that adds a table or function
--    replaces this function and the roles follow. Returns the roles granted.
--
--    producer: enqueue (INSERT into jobs, enqueue()) and read the state and
--      results of jobs; nothing else.
--    worker: the job protocol (claim, heartbeat, complete, retry, rescue of
--      expired leases, its row in workers and idle_workers, history
--      partitions ahead); it cannot insert jobs, edit schedules or queues'
--      settings, or change the schema.
--    admin: the CLI, the dashboard and the scheduler: every row of every
--      table and every function of the schema; no DDL (the owner migrates).
CREATE FUNCTION @schema@.grant_roles(create_missing boolean DEFAULT false) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s constant text := '@schema@';
  kind text;
  r text;
  granted text[] := '{}';
BEGIN
  FOREACH kind IN ARRAY ARRAY['producer', 'worker', 'admin'] LOOP
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
                     '%I.wake_idle_workers(text) TO %I', s, s, r);
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
    ELSE
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I',
                     s, r);
      EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON %I.schema_migrations FROM %I', s, r);
      EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, r);
      EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', s, r);
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %I.grant_roles(boolean) FROM %I', s, r);
    END IF;
    granted := granted || r;
  END LOOP;
  RETURN granted;
END;
$$;
REVOKE ALL ON FUNCTION @schema@.grant_roles(boolean) FROM PUBLIC;
