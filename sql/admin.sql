-- Read-only queries of the admin CLI. They return JSON built by PostgreSQL,
-- so times come out as ISO 8601 and the CLI prints or re-emits them as is.

-- name: job_show
-- One job by id, wherever it is (hot table or history), as a JSON object.
SELECT row_to_json(j)::text
FROM (
  SELECT id, queue, task, args, priority, state, attempt, max_attempts,
         NULL::jsonb AS result, errors, progress, unique_key,
         extract(epoch FROM timeout)::float8 AS timeout_seconds, schedule_id,
         scheduled_for, lease_owner AS worker_id, lease_expires_at, cancel_requested,
         created_at, run_at, started_at, NULL::timestamptz AS finished_at,
         EXISTS (SELECT 1 FROM @schema@.workers w
                 WHERE w.tasks ? jobs.task AND w.queues ? jobs.queue) AS has_worker
  FROM @schema@.jobs WHERE id = $1::bigint
  UNION ALL
  SELECT id, queue, task, args, priority, state, attempt, max_attempts, result, errors,
         progress, unique_key, NULL, schedule_id, scheduled_for, worker_id, NULL, false,
         created_at, run_at, started_at, finished_at, NULL
  FROM @schema@.job_history WHERE id = $1::bigint
) j
LIMIT 1;

-- name: queue_stats
-- Per queue (every queue with jobs, a settings row or a live worker): ready,
-- scheduled (future run_at) and running jobs, jobs that failed for good in
-- the last 24 hours, and how many live workers serve it. A fixed window says
-- what the number means whatever the retention, and the finish-time
-- partitions of job_history keep the count to one or two days of rows.
WITH hot AS (
  SELECT queue,
         count(*) FILTER (WHERE state = 'pending' AND run_at <= now()) AS pending,
         count(*) FILTER (WHERE state = 'pending' AND run_at > now()) AS scheduled,
         count(*) FILTER (WHERE state = 'running') AS running
  FROM @schema@.jobs GROUP BY queue
), failed AS (
  SELECT queue, count(*) AS failed FROM @schema@.job_history
  WHERE state = 'failed' AND finished_at > now() - interval '24 hours' GROUP BY queue
), names AS (
  SELECT queue FROM hot UNION SELECT queue FROM failed UNION SELECT name FROM @schema@.queues
  UNION SELECT jsonb_object_keys(queues) FROM @schema@.workers
)
SELECT coalesce(json_agg(row_to_json(s) ORDER BY s.queue), '[]')::text
FROM (
  SELECT n.queue, coalesce(h.pending, 0) AS pending, coalesce(h.scheduled, 0) AS scheduled,
         coalesce(h.running, 0) AS running, coalesce(f.failed, 0) AS failed_24h,
         (SELECT count(*) FROM @schema@.workers w WHERE w.queues ? n.queue) AS workers
  FROM names n LEFT JOIN hot h USING (queue) LEFT JOIN failed f USING (queue)
) s;

-- name: task_coverage
-- Whether a live worker could run a job of task $1 on queue $2, and what live
-- workers do handle: the CLI warns when a job or schedule names a task no
-- running worker handles (a typo, or a worker not started yet). Live means a
-- heartbeat in the last 5 minutes, the age at which the scheduler prunes a
-- worker's row (a worker beats every lease/3). The lists are JSON arrays.
WITH live AS (
  SELECT queues, tasks FROM @schema@.workers
  WHERE heartbeat_at > now() - interval '5 minutes'
)
SELECT EXISTS (SELECT 1 FROM live WHERE tasks ? $1 AND queues ? $2) AS handled,
       (SELECT count(*) FROM live) AS live_workers,
       (SELECT coalesce(json_agg(DISTINCT t ORDER BY t), '[]')
        FROM live, jsonb_array_elements_text(tasks) t WHERE queues ? $2)::text AS tasks_on_queue,
       (SELECT coalesce(json_agg(DISTINCT q ORDER BY q), '[]')
        FROM live, jsonb_object_keys(queues) q WHERE tasks ? $1)::text AS queues_for_task,
       (SELECT coalesce(json_agg(DISTINCT t ORDER BY t), '[]')
        FROM live, jsonb_array_elements_text(tasks) t)::text AS all_tasks;
