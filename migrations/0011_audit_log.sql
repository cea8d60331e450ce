-- 0011_audit_log: who did what, and when, for every action taken on jobs,
-- queues, schedules and workers from the admin CLI or the dashboard, and a
-- read-only role for dashboards and people that may look but not act.
--
-- One append-only table rather than updated_by/updated_at columns on each
-- table: an action often touches no single row that outlives it (a purge
-- deletes its jobs, a retry makes a new one, a cancel moves the job to
-- history), and the dashboard's "recent actions" reads one index instead of
-- four tables. Each row is written in the transaction of the action itself,
-- so an action that rolls back leaves no row and one that commits always
-- has its row.
--
-- action: '<kind>.<verb>' (job.cancel, job.retry, queue.pause, queue.purge,
--   queue.limits, schedule.enable, schedule.run_now, worker.stop, ...).
-- target: the job id, queue name, schedule name or worker id; '*' for an
--   action on several (jobs retry --failed, schedules disable --all).
-- actor: NAME@web from the dashboard, user@host from the CLI, the
--   database role (session_user) when the caller gives none.
-- details: what the action found or made: {"new_id": 12}, {"purged": 40},
--   {"outcome": "stopping"}, the limits set, ...
CREATE TABLE @schema@.audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL
    CONSTRAINT audit_log_actor_not_blank CHECK (btrim(actor) <> '' AND length(actor) <= 200),
  action text NOT NULL
    CONSTRAINT audit_log_action_format CHECK (action ~ '^[a-z]+\.[a-z_]+$'),
  target text NOT NULL
    CONSTRAINT audit_log_target_length CHECK (length(target) BETWEEN 1 AND 300),
  details jsonb NOT NULL DEFAULT '{}'
    CONSTRAINT audit_log_details_object CHECK (jsonb_typeof(details) = 'object')
);
-- A job's, queue's or schedule's own actions, newest first (job and
-- schedule pages); the recent-actions list reads the primary key backwards.
CREATE INDEX audit_log_target_idx ON @schema@.audit_log (target, id);

-- The roles of 0009, now four. grant_roles is replaced whole (a function is
-- one object); what changed:
--   admin: may add to audit_log and read it, but not change or delete its
--     rows, so the dashboard's and the CLI's role cannot rewrite what they
--     did (the schema's owner prunes it: DELETE ... WHERE at < ...).
--   reader (new): SELECT on every table and view of the schema and nothing
--     else: no function, no write. For a read-only dashboard
--     (`pgjobs web --read-only`) and for people who look.
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
