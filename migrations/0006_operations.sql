-- 0006_operations: what the operations CLI needs (pause, cancel, retry,
-- stopping a worker, listing history fast).
--
-- Every new column is nullable or has a constant default, so adding it is a
-- catalog change only: no table rewrite, whatever the table's size.

-- A paused queue keeps its jobs but is not claimed from (see `claim`).
ALTER TABLE @schema@.queues ADD COLUMN paused boolean NOT NULL DEFAULT false;

-- retry_of: the job this one retries (`pgjobs jobs retry`, pgjobs.retry).
-- cancelled_by: who asked to cancel the job (kept in history).
ALTER TABLE @schema@.jobs ADD COLUMN retry_of bigint, ADD COLUMN cancelled_by text;
ALTER TABLE @schema@.job_history ADD COLUMN retry_of bigint, ADD COLUMN cancelled_by text;

-- Set by `pgjobs workers stop`: the worker drains and exits.
ALTER TABLE @schema@.workers ADD COLUMN stop_requested boolean NOT NULL DEFAULT false;

-- `jobs list --queue/--task` reads history newest first: one backward range
-- scan per partition, stopped by the LIMIT, whatever the history's size.
CREATE INDEX job_history_queue_id_idx ON @schema@.job_history (queue, id);
CREATE INDEX job_history_task_id_idx ON @schema@.job_history (task, id);
-- `jobs list --state failed|cancelled` and `jobs retry --failed`: the rare
-- states, newest first, without reading the succeeded rows.
CREATE INDEX job_history_unsucceeded_idx ON @schema@.job_history (id)
  WHERE state <> 'succeeded';
-- Whether a job was already retried (a redrive skips it). Partial: only
-- retries are indexed, so ordinary inserts pay almost nothing.
CREATE INDEX job_history_retry_of_idx ON @schema@.job_history (retry_of)
  WHERE retry_of IS NOT NULL;
CREATE INDEX jobs_retry_of_idx ON @schema@.jobs (retry_of) WHERE retry_of IS NOT NULL;

-- Every job, hot or finished, in one place (now with retry_of and cancelled_by).
CREATE OR REPLACE VIEW @schema@.all_jobs AS
  SELECT id, queue, task, args, priority, state, attempt, max_attempts,
         NULL::jsonb AS result, errors, progress, unique_key, schedule_id,
         scheduled_for, lease_owner AS worker_id, created_at, run_at, started_at,
         NULL::timestamptz AS finished_at, retry_of, cancelled_by
  FROM @schema@.jobs
  UNION ALL
  SELECT id, queue, task, args, priority, state, attempt, max_attempts,
         result, errors, progress, unique_key, schedule_id, scheduled_for,
         worker_id, created_at, run_at, started_at, finished_at, retry_of, cancelled_by
  FROM @schema@.job_history;

-- Cancels job `job_id` on behalf of `cancelled_by` and says what happened:
--   'cancelled'  it was pending: moved to history as cancelled, at once;
--   'stopping'   it was running: cancel_requested is set and its worker,
--                woken by a NOTIFY on the control channel, stops it and
--                records it as cancelled;
--   'finished'   it had already finished (history holds it);
--   'not_found'  no such job.
-- The row lock makes it safe against a claim or a completion in flight: a
-- job being claimed is cancelled as running, one being completed is found
-- finished.
CREATE FUNCTION @schema@.cancel_job(job_id bigint, cancelled_by text DEFAULT session_user)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  j @schema@.jobs%ROWTYPE;
BEGIN
  SELECT * INTO j FROM @schema@.jobs WHERE id = job_id FOR UPDATE;
  IF NOT FOUND THEN
    IF EXISTS (SELECT 1 FROM @schema@.job_history h WHERE h.id = job_id) THEN
      RETURN 'finished';
    END IF;
    RETURN 'not_found';
  END IF;
  IF j.state = 'pending' THEN
    DELETE FROM @schema@.jobs WHERE id = job_id;
    INSERT INTO @schema@.job_history
      (id, queue, task, args, priority, state, attempt, max_attempts, result, errors,
       progress, unique_key, schedule_id, scheduled_for, worker_id, created_at, run_at,
       started_at, finished_at, retry_of, cancelled_by)
    VALUES (j.id, j.queue, j.task, j.args, j.priority, 'cancelled', j.attempt, j.max_attempts,
            NULL, j.errors, j.progress, j.unique_key, j.schedule_id, j.scheduled_for, NULL,
            j.created_at, j.run_at, j.started_at, now(), j.retry_of, cancel_job.cancelled_by);
    RETURN 'cancelled';
  END IF;
  UPDATE @schema@.jobs
  SET cancel_requested = true, cancelled_by = coalesce(jobs.cancelled_by, cancel_job.cancelled_by)
  WHERE id = job_id;
  PERFORM pg_notify('@schema@_control', 'cancel');
  RETURN 'stopping';
END;
$$;

-- The SQL API of cancellation: as cancel_job, but a job that does not
-- exist or has finished is an error. Returns 'cancelled' or 'stopping'.
CREATE FUNCTION @schema@.cancel(job_id bigint, cancelled_by text DEFAULT session_user)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  outcome text := @schema@.cancel_job(job_id, cancelled_by);
BEGIN
  IF outcome = 'not_found' THEN
    RAISE EXCEPTION 'pgjobs.cancel: no job %', job_id USING ERRCODE = 'no_data_found';
  ELSIF outcome = 'finished' THEN
    RAISE EXCEPTION 'pgjobs.cancel: job % has already finished (%); nothing to cancel', job_id,
      (SELECT h.state FROM @schema@.job_history h WHERE h.id = job_id LIMIT 1)
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN outcome;
END;
$$;

-- Runs a failed or cancelled job again: a new pending job with the same
-- queue, task, args, priority, max_attempts and unique_key, fresh attempts,
-- and retry_of = the original's id. Returns the new job's id. (The original's
-- own timeout is not kept in history: the retry gets the task's.)
CREATE FUNCTION @schema@.retry(job_id bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  h @schema@.job_history%ROWTYPE;
  new_id bigint;
BEGIN
  SELECT * INTO h FROM @schema@.job_history WHERE id = job_id ORDER BY finished_at DESC LIMIT 1;
  IF NOT FOUND THEN
    IF EXISTS (SELECT 1 FROM @schema@.jobs j WHERE j.id = job_id) THEN
      RAISE EXCEPTION 'pgjobs.retry: job % has not finished; only failed or cancelled jobs are retried', job_id
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RAISE EXCEPTION 'pgjobs.retry: no job %', job_id USING ERRCODE = 'no_data_found';
  END IF;
  IF h.state = 'succeeded' THEN
    RAISE EXCEPTION 'pgjobs.retry: job % succeeded; only failed or cancelled jobs are retried (enqueue it again to run it once more)', job_id
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  INSERT INTO @schema@.jobs AS j (queue, task, args, priority, max_attempts, unique_key, retry_of)
  VALUES (h.queue, h.task, h.args, h.priority, h.max_attempts, h.unique_key, h.id)
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
  RETURNING j.id INTO new_id;
  IF new_id IS NULL THEN
    RAISE EXCEPTION 'pgjobs.retry: job % has unique_key %, which a live job (id %) holds; wait for it to finish or cancel it',
      job_id, h.unique_key, (SELECT j.id FROM @schema@.jobs j WHERE j.unique_key = h.unique_key)
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN new_id;
END;
$$;
