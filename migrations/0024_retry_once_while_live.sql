-- 0024_retry_once_while_live: retrying a job by id while a retry of it is
-- still pending or running is refused, not a second copy.
--
-- pgjobs.retry(id) made a new job on every call: a double-click on the
-- dashboard's Retry button, or `pgjobs jobs retry 16` run twice, ran a job
-- that may not be idempotent twice at once. The dead-letter redrive
-- (`jobs retry --failed`) already skipped retried jobs. Now a retry by id is
-- refused while a job that retries it is live (pending or running); once
-- that retry has ended (failed again, say), the original may be retried
-- again. The check runs under the redrive's lock, so two calls at the same
-- moment cannot both pass it. The rest of the function is 0006's.
CREATE OR REPLACE FUNCTION @schema@.retry(job_id bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  h @schema@.job_history%ROWTYPE;
  live @schema@.jobs%ROWTYPE;
  new_id bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('@schema@.retry_failed'));
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
  SELECT * INTO live FROM @schema@.jobs j WHERE j.retry_of = job_id ORDER BY j.id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'pgjobs.retry: job % was already retried as job %, which is still %; wait for it to end or cancel it first',
      job_id, live.id, live.state
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
