-- 0013_notify_done: a NOTIFY when a job that someone waits for ends, and no
-- work for the jobs nobody waits for.
--
-- A waiter (AsyncResult.get() of the Python module) LISTENs on @schema@_done
-- and flags the job with notify_when_done(id); when the job leaves jobs (it
-- ended, was cancelled or purged: its row moves to job_history), the row
-- trigger below sends its id. The trigger's WHEN clause is tested on the
-- deleted row inside the executor, without calling any function, so a job
-- nobody waits for costs the worker's completion that test and nothing else
-- (measured: README, "Runner tasks").
ALTER TABLE @schema@.jobs ADD COLUMN notify_done boolean NOT NULL DEFAULT false;

CREATE FUNCTION @schema@.jobs_notify_done() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('@schema@_done', OLD.id::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_notify_done AFTER DELETE ON @schema@.jobs
  FOR EACH ROW WHEN (OLD.notify_done)
  EXECUTE FUNCTION @schema@.jobs_notify_done();

-- Flags job_id so that its end is announced on @schema@_done. Returns false
-- when the job is no longer waiting or running (it has ended, or there is
-- no such job): look in job_history. Runs as the schema's owner, so a role
-- that may read jobs but not update them can wait too.
CREATE FUNCTION @schema@.notify_when_done(job_id bigint) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  WITH flagged AS (
    UPDATE @schema@.jobs SET notify_done = true WHERE id = job_id RETURNING 1
  )
  SELECT EXISTS (SELECT 1 FROM flagged);
$$;
REVOKE ALL ON FUNCTION @schema@.notify_when_done(bigint) FROM PUBLIC;
