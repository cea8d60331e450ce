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
         NULL::boolean AS has_worker,  -- job_has_worker, for roles that may read workers
         retry_of, cancelled_by
  FROM @schema@.jobs WHERE id = $1::bigint
  UNION ALL
  SELECT id, queue, task, args, priority, state, attempt, max_attempts, result, errors,
         progress, unique_key, NULL, schedule_id, scheduled_for, worker_id, NULL, false,
         created_at, run_at, started_at, finished_at, NULL, retry_of, cancelled_by
  FROM @schema@.job_history WHERE id = $1::bigint
) j
LIMIT 1;

-- name: job_has_worker
-- Whether a worker row declares task $1 and serves queue $2 (jobs show's
-- note on a waiting job). A query of its own: the producer role may read
-- jobs but not workers.
SELECT EXISTS (SELECT 1 FROM @schema@.workers w WHERE w.tasks ? $1 AND w.queues ? $2);

-- name: schedule_id_by_name
-- The id of schedule $1 (jobs list --schedule), so that job_list needs no
-- right on schedules.
SELECT id FROM @schema@.schedules WHERE name = $1;

-- name: queue_stats
-- Per queue (every queue with waiting or running jobs, jobs finished in the
-- last hour or failed in the last 24 hours, a settings row or a live
-- worker): ready,
-- scheduled (future run_at) and running jobs, jobs that failed for good in
-- the last 24 hours, live workers serving it, jobs that succeeded and failed
-- in the last hour, the age of the oldest ready job, and whether it is
-- paused. A fixed window says what a number means whatever the retention;
-- the hour's counts read the hour's rows (job_history_finished_at_brin) and
-- the day's failures only failed rows (job_history_failed_at_idx).
WITH hot AS (
  SELECT queue,
         count(*) FILTER (WHERE state = 'pending' AND run_at <= now()) AS pending,
         count(*) FILTER (WHERE state = 'pending' AND run_at > now()) AS scheduled,
         count(*) FILTER (WHERE state = 'running') AS running,
         min(run_at) FILTER (WHERE state = 'pending' AND run_at <= now()) AS oldest_pending
  FROM @schema@.jobs GROUP BY queue
), fin AS (
  -- the hour's rows, through job_history_finished_at_brin
  SELECT queue,
         count(*) FILTER (WHERE state = 'failed') AS failed_1h,
         count(*) FILTER (WHERE state = 'succeeded') AS succeeded_1h
  FROM @schema@.job_history
  WHERE finished_at > now() - interval '1 hour' GROUP BY queue
), failed_day AS (
  -- the day's failures only, through job_history_failed_at_idx
  SELECT queue, count(*) AS failed_24h
  FROM @schema@.job_history
  WHERE state = 'failed' AND finished_at > now() - interval '24 hours' GROUP BY queue
), live AS (
  -- live: a heartbeat younger than the worker's lease + 10 s (migration 0025)
  SELECT queues FROM @schema@.workers
  WHERE heartbeat_at > now() - make_interval(secs => coalesce(lease_seconds + 10, 300))
), names AS (
  SELECT queue FROM hot UNION SELECT queue FROM fin UNION SELECT queue FROM failed_day
  UNION SELECT name FROM @schema@.queues UNION SELECT jsonb_object_keys(queues) FROM live
)
SELECT coalesce(json_agg(row_to_json(s) ORDER BY s.queue), '[]')::text
FROM (
  SELECT n.queue, coalesce(h.pending, 0) AS pending, coalesce(h.scheduled, 0) AS scheduled,
         coalesce(h.running, 0) AS running, coalesce(f.failed_24h, 0) AS failed_24h,
         (SELECT count(*) FROM live w WHERE w.queues ? n.queue) AS workers,
         coalesce(d.succeeded_1h, 0) AS succeeded_1h, coalesce(d.failed_1h, 0) AS failed_1h,
         h.oldest_pending AS oldest_pending_run_at,
         extract(epoch FROM now() - h.oldest_pending)::float8 AS oldest_pending_seconds,
         coalesce(q.paused, false) AS paused, coalesce(q.notify, true) AS notify,
         coalesce(q.broker, 'postgres') AS broker,
         q.concurrency, q.rate_limit, extract(epoch FROM q.rate_period)::float8 AS rate_period_seconds
  FROM names n LEFT JOIN hot h USING (queue) LEFT JOIN fin d USING (queue)
  LEFT JOIN failed_day f USING (queue)
  LEFT JOIN @schema@.queues q ON q.name = n.queue
) s;

-- name: task_coverage
-- Whether a live worker could run a job of task $1 on queue $2, and what live
-- workers do handle: the CLI warns when a job or schedule names a task no
-- running worker handles (a typo, or a worker not started yet). Live means a
-- heartbeat younger than the worker's lease + 10 s (it beats every lease/3:
-- three beats missed; 5 minutes for a row without a lease, migration 0025).
-- The lists are JSON arrays.
WITH live AS (
  SELECT queues, tasks FROM @schema@.workers
  WHERE heartbeat_at > now() - make_interval(secs => coalesce(lease_seconds + 10, 300))
)
SELECT EXISTS (SELECT 1 FROM live WHERE tasks ? $1 AND queues ? $2) AS handled,
       (SELECT count(*) FROM live) AS live_workers,
       (SELECT coalesce(json_agg(DISTINCT t ORDER BY t), '[]')
        FROM live, jsonb_array_elements_text(tasks) t WHERE queues ? $2)::text AS tasks_on_queue,
       (SELECT coalesce(json_agg(DISTINCT q ORDER BY q), '[]')
        FROM live, jsonb_object_keys(queues) q WHERE tasks ? $1)::text AS queues_for_task,
       (SELECT coalesce(json_agg(DISTINCT t ORDER BY t), '[]')
        FROM live, jsonb_array_elements_text(tasks) t)::text AS all_tasks;

-- name: job_list
-- Jobs newest first (by id), waiting, running and finished, with optional
-- filters: $1 queue, $2 state (pending = ready, scheduled = future run_at,
-- running, succeeded, failed, cancelled), $3 task, $4 schedule name, $5 only
-- jobs created in the last $5 seconds, $6 at most this many, $7 only ids
-- below this one (the next page after a page that ended at $7). NULL = no
-- filter. $4 is the schedule's id (schedule_id_by_name): the producer role
-- may list jobs but not read schedules.
-- Sent with its values (never prepared), so the planner folds away the
-- filters not given and each branch is one backward index scan stopped by
-- the LIMIT: jobs by primary key; job_history by job_history_queue_id_idx
-- (--queue), job_history_task_id_idx (--task), job_history_unsucceeded_idx
-- (--state failed|cancelled) or job_history_id_idx, one per partition,
-- merged; --since also prunes the partitions that finished before it.
SELECT coalesce(json_agg(row_to_json(j) ORDER BY j.id DESC), '[]')::text
FROM (
  (SELECT id, queue, task,
          CASE WHEN state = 'pending' AND run_at > now() THEN 'scheduled' ELSE state END AS state,
          priority, attempt, max_attempts, created_at, run_at, started_at,
          NULL::timestamptz AS finished_at, lease_owner AS worker_id, schedule_id, retry_of,
          cancel_requested, cancelled_by
   FROM @schema@.jobs
   WHERE ($1::text IS NULL OR queue = $1) AND ($3::text IS NULL OR task = $3)
     AND ($4::bigint IS NULL OR schedule_id = $4::bigint)
     AND ($5::float8 IS NULL OR created_at >= now() - make_interval(secs => $5::float8))
     AND ($7::bigint IS NULL OR id < $7::bigint)
     AND ($2::text IS NULL
          OR ($2 = 'pending' AND state = 'pending' AND run_at <= now())
          OR ($2 = 'scheduled' AND state = 'pending' AND run_at > now())
          OR ($2 = 'running' AND state = 'running'))
   ORDER BY id DESC LIMIT $6::integer)
  UNION ALL
  (SELECT id, queue, task, state, priority, attempt, max_attempts, created_at, run_at,
          started_at, finished_at, worker_id, schedule_id, retry_of, false, cancelled_by
   FROM @schema@.job_history
   WHERE ($2::text IS NULL OR $2 IN ('succeeded', 'failed', 'cancelled'))
     AND ($1::text IS NULL OR queue = $1) AND ($3::text IS NULL OR task = $3)
     AND ($7::bigint IS NULL OR id < $7::bigint)
     AND ($4::bigint IS NULL OR schedule_id = $4::bigint)
     AND ($5::float8 IS NULL OR (created_at >= now() - make_interval(secs => $5::float8)
                                 AND finished_at >= now() - make_interval(secs => $5::float8)))
     AND ($2::text IS NULL OR ($2 = 'succeeded' AND state = 'succeeded')
          OR ($2 IN ('failed', 'cancelled') AND state = $2 AND state <> 'succeeded'))
   ORDER BY id DESC LIMIT $6::integer)
  ORDER BY id DESC LIMIT $6::integer
) j;

-- name: job_cancel
-- Cancels job $1 for $2 (who): 'cancelled', 'stopping', 'finished' or
-- 'not_found' (see pgjobs.cancel_job in migrations/0006_operations.sql).
SELECT @schema@.cancel_job($1::bigint, $2);

-- name: job_cancel_many
-- Cancels every job of queue $1 (of task $2 when not NULL) for $3, one job
-- at a time through cancel_job (locks in id order); returns a JSON object
-- counting the outcomes, e.g. {"cancelled": 12, "stopping": 2}.
SELECT coalesce(json_object_agg(outcome, n), '{}')::text
FROM (
  SELECT outcome, count(*) AS n
  FROM (SELECT @schema@.cancel_job(ids.id, $3) AS outcome
        FROM (SELECT id FROM @schema@.jobs
              WHERE queue = $1 AND ($2::text IS NULL OR task = $2) ORDER BY id) ids) o
  GROUP BY outcome
) c;

-- name: job_retry
-- A new pending job from failed or cancelled job $1 (pgjobs.retry); its id.
SELECT @schema@.retry($1::bigint);

-- name: queue_ever_used
-- Whether queue $1 has a settings row, a finished job still in history, or
-- a job. The first two are index probes; the last may read the hot table
-- when the queue has none of them (a typo), which is why `jobs retry
-- --failed` asks only when it retried nothing.
SELECT EXISTS (SELECT 1 FROM @schema@.queues WHERE name = $1)
    OR EXISTS (SELECT 1 FROM @schema@.job_history WHERE queue = $1)
    OR EXISTS (SELECT 1 FROM @schema@.jobs WHERE queue = $1);

-- name: job_live_retry
-- A pending or running job that retries job $1 (its id and state), if any:
-- pgjobs.retry refuses a second one (migration 0024).
SELECT id, state FROM @schema@.jobs WHERE retry_of = $1::bigint ORDER BY id LIMIT 1;

-- name: retry_failed_lock
-- Serialises redrives: taken in its own statement, so that the redrive's
-- statement, which starts after it, sees the jobs a redrive before it made.
SELECT pg_advisory_xact_lock(hashtext('@schema@.retry_failed'));

-- name: job_redrive
-- The redrive: a new pending job (retry_of = the original) for each job
-- that ended in state $4 ('failed': failed for good, or 'cancelled'), of
-- queue $1 / task $2 when not NULL, that finished in the last $3 seconds
-- (NULL: any time), and that no job retries yet (so a second redrive does
-- not run them twice). Jobs whose unique_key a live job holds are skipped.
-- Run after retry_failed_lock, in the same transaction, so that two
-- redrives never both retry a job. Returns
-- {"retried": n, "skipped_unique_key": m}.
WITH src AS (
  SELECT h.* FROM @schema@.job_history h
  WHERE h.state = $4::text AND ($1::text IS NULL OR h.queue = $1)
    AND ($2::text IS NULL OR h.task = $2)
    AND ($3::float8 IS NULL OR h.finished_at >= now() - make_interval(secs => $3::float8))
    AND NOT EXISTS (SELECT 1 FROM @schema@.jobs r WHERE r.retry_of = h.id)
    AND NOT EXISTS (SELECT 1 FROM @schema@.job_history r WHERE r.retry_of = h.id)
), ins AS (
  INSERT INTO @schema@.jobs (queue, task, args, priority, max_attempts, unique_key, retry_of)
  SELECT queue, task, args, priority, max_attempts, unique_key, id FROM src ORDER BY id
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
  RETURNING id
)
SELECT json_build_object('retried', (SELECT count(*) FROM ins),
                         'skipped_unique_key', (SELECT count(*) FROM src) - (SELECT count(*) FROM ins))::text;

-- name: pending_count
-- Pending jobs (ready or scheduled) of queue $1, of task $2 when not NULL:
-- what a purge would delete.
SELECT count(*) FROM @schema@.jobs
WHERE queue = $1 AND ($2::text IS NULL OR task = $2) AND state = 'pending';

-- name: job_purge
-- Deletes the pending jobs of queue $1 (of task $2 when not NULL); running
-- jobs are left alone. Returns how many. A job being claimed at this moment
-- is running once its lock is released and is not deleted. The queue keeps
-- (or gets) its settings row, so that it stays known once emptied: a purge
-- run again (from cron, say) deletes nothing rather than "no queue".
WITH d AS (
  DELETE FROM @schema@.jobs
  WHERE queue = $1 AND ($2::text IS NULL OR task = $2) AND state = 'pending'
  RETURNING 1
), known AS (
  INSERT INTO @schema@.queues (name) VALUES ($1) ON CONFLICT (name) DO NOTHING
)
SELECT count(*) FROM d;

-- name: queue_set_paused
-- Pauses ($2 true) or resumes queue $1, creating its settings row if
-- needed, and wakes the workers of the queue (a NOTIFY on the jobs channel)
-- so that a resumed queue is claimed from at once.
WITH q AS (
  INSERT INTO @schema@.queues (name, paused) VALUES ($1, $2::boolean)
  ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = now()
  RETURNING name
)
SELECT pg_notify('@schema@_jobs', name) FROM q;

-- name: queue_set_notify
-- Turns the NOTIFY of inserts into queue $1 on ($2 true) or off, creating
-- its settings row if needed. Off: workers find its jobs by polling.
INSERT INTO @schema@.queues (name, notify) VALUES ($1, $2::boolean)
ON CONFLICT (name) DO UPDATE SET notify = excluded.notify, updated_at = now();

-- name: queue_set_limits
-- Sets queue $1's global concurrency limit when $2 is true ($3: a number, or
-- NULL for none) and its rate limit when $4 is true ($5 jobs per $6 seconds,
-- or NULLs for none); see set_queue_limits (migration 0008).
SELECT @schema@.set_queue_limits($1, $2::boolean, $3::integer, $4::boolean, $5::integer,
                                 make_interval(secs => $6::float8));

-- name: worker_list
-- Every worker row: identity, queues and their concurrency, the jobs it
-- runs now (by jobs_lease_idx: running jobs only), heartbeat and whether it
-- is live (a heartbeat younger than its lease + 10 s) or asked to stop.
SELECT coalesce(json_agg(row_to_json(w) ORDER BY w.id), '[]')::text
FROM (
  SELECT w.id, w.host, w.pid, w.queues,
         (SELECT coalesce(sum(c.value::integer), 0) FROM jsonb_each_text(w.queues) c) AS concurrency,
         coalesce(r.running, 0) AS running, w.tasks, w.version, w.started_at, w.heartbeat_at,
         w.heartbeat_at > now() - make_interval(secs => coalesce(w.lease_seconds + 10, 300))
           AS live,
         w.stop_requested
  FROM @schema@.workers w
  LEFT JOIN (SELECT lease_owner, count(*) AS running FROM @schema@.jobs
             WHERE state = 'running' GROUP BY lease_owner) r ON r.lease_owner = w.id
) w;

-- name: worker_stop
-- Asks worker $1 to drain and exit: its heartbeat reads stop_requested, and
-- the control NOTIFY makes it look at once. No row: no such worker.
WITH w AS (
  UPDATE @schema@.workers SET stop_requested = true WHERE id = $1 RETURNING id
)
SELECT id, pg_notify('@schema@_control', 'stop') FROM w;

-- name: task_list
-- Every task seen in waiting or running jobs or handled by a live worker:
-- counts per state, the live workers that handle it, and the queues where
-- it has ready jobs that no live worker serving that queue handles.
WITH live AS (
  SELECT id, queues, tasks FROM @schema@.workers
  WHERE heartbeat_at > now() - make_interval(secs => coalesce(lease_seconds + 10, 300))
), hot AS (
  SELECT task, queue,
         count(*) FILTER (WHERE state = 'pending' AND run_at <= now()) AS pending,
         count(*) FILTER (WHERE state = 'pending' AND run_at > now()) AS scheduled,
         count(*) FILTER (WHERE state = 'running') AS running,
         min(run_at) FILTER (WHERE state = 'pending' AND run_at <= now()) AS oldest_pending
  FROM @schema@.jobs GROUP BY task, queue
), names AS (
  SELECT task FROM hot UNION SELECT jsonb_array_elements_text(tasks) FROM live
)
SELECT coalesce(json_agg(row_to_json(t) ORDER BY t.task), '[]')::text
FROM (
  SELECT n.task,
         coalesce(sum(h.pending), 0) AS pending, coalesce(sum(h.scheduled), 0) AS scheduled,
         coalesce(sum(h.running), 0) AS running,
         extract(epoch FROM now() - min(h.oldest_pending))::float8 AS oldest_pending_seconds,
         (SELECT coalesce(json_agg(l.id ORDER BY l.id), '[]') FROM live l
          WHERE l.tasks ? n.task) AS workers,
         (SELECT coalesce(json_agg(h2.queue ORDER BY h2.queue), '[]') FROM hot h2
          WHERE h2.task = n.task AND h2.pending > 0
            AND NOT EXISTS (SELECT 1 FROM live l WHERE l.tasks ? n.task AND l.queues ? h2.queue)
         ) AS unserved_queues
  FROM names n LEFT JOIN hot h ON h.task = n.task
  GROUP BY n.task
) t;

-- name: stats
-- Jobs that finished in the last $1 seconds (of queue $2 when not NULL), per
-- queue and task and per queue (task NULL): counts, throughput per minute,
-- failure rate (failed / finished), run time (finish - start of the last
-- attempt) and wait time (start of the last attempt - when it was ready)
-- percentiles in seconds. Reads the window's rows through
-- job_history_finished_at_brin.
WITH h AS (
  SELECT queue, task, state,
         extract(epoch FROM finished_at - started_at)::float8 AS run_s,
         extract(epoch FROM started_at - run_at)::float8 AS wait_s
  FROM @schema@.job_history
  WHERE finished_at >= now() - make_interval(secs => $1::float8)
    AND ($2::text IS NULL OR queue = $2)
)
SELECT coalesce(json_agg(json_build_object(
         'queue', a.queue, 'task', a.task, 'finished', a.finished, 'succeeded', a.succeeded,
         'failed', a.failed, 'cancelled', a.cancelled,
         'per_minute', round((a.finished / ($1::float8 / 60))::numeric, 3)::float8,
         'failure_rate', round((a.failed::numeric / a.finished), 4)::float8,
         'run_p50', a.run[1], 'run_p95', a.run[2], 'run_p99', a.run[3],
         'wait_p50', a.wait[1], 'wait_p95', a.wait[2], 'wait_p99', a.wait[3])
       ORDER BY a.queue, a.task NULLS FIRST), '[]')::text
FROM (
  SELECT queue, task, count(*) AS finished,
         count(*) FILTER (WHERE state = 'succeeded') AS succeeded,
         count(*) FILTER (WHERE state = 'failed') AS failed,
         count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
         percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY run_s) AS run,
         percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY wait_s) AS wait
  FROM h
  GROUP BY GROUPING SETS ((queue, task), (queue))
) a;

-- name: doctor_facts
-- What `pgjobs doctor` judges, as one JSON object of raw facts (the
-- thresholds are in src/store/doctor.cc): live workers, the scheduler
-- leader, leases expired for more than 10 s (nobody rescues them), ready
-- jobs no live worker handles (per queue and task, with the oldest age),
-- paused queues with ready jobs, the oldest transaction and sessions idle in transaction (they hold back
-- vacuum of the hot table), dead tuples in jobs, the NOTIFY queue's usage,
-- history partitions for the next two days, and the age of datfrozenxid.
WITH live AS (
  SELECT queues, tasks FROM @schema@.workers
  WHERE heartbeat_at > now() - make_interval(secs => coalesce(lease_seconds + 10, 300))
), ready AS (
  SELECT queue, task, count(*) AS jobs, extract(epoch FROM now() - min(run_at))::float8 AS oldest_seconds
  FROM @schema@.jobs WHERE state = 'pending' AND run_at <= now() GROUP BY queue, task
), sessions AS (
  SELECT * FROM pg_stat_activity
  WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
)
SELECT json_build_object(
  'live_workers', (SELECT count(*) FROM live),
  'ready_jobs', (SELECT coalesce(sum(jobs), 0) FROM ready),
  -- A once schedule whose tick was made ahead is done, yet still to fire.
  'enabled_schedules', (SELECT count(*) FROM @schema@.schedules
                        WHERE enabled AND (NOT done OR last_run_at > now())),
  'leader_seconds_left', (SELECT extract(epoch FROM max(expires_at) - now())::float8 FROM @schema@.leader),
  'expired_leases', (SELECT count(*) FROM @schema@.jobs
                     WHERE state = 'running' AND lease_expires_at < now() - interval '10 seconds'),
  'unhandled', (SELECT coalesce(json_agg(json_build_object('queue', r.queue, 'task', r.task,
                  'jobs', r.jobs, 'oldest_seconds', r.oldest_seconds) ORDER BY r.oldest_seconds DESC), '[]')
                FROM ready r
                WHERE NOT EXISTS (SELECT 1 FROM live l WHERE l.tasks ? r.task AND l.queues ? r.queue)),
  -- A pause forgotten: paused queues whose jobs wait.
  'paused_with_ready', (SELECT coalesce(json_agg(json_build_object('queue', p.queue, 'jobs', p.jobs,
                          'oldest_seconds', p.oldest_seconds) ORDER BY p.queue), '[]')
                        FROM (SELECT r.queue, sum(r.jobs) AS jobs, max(r.oldest_seconds) AS oldest_seconds
                              FROM ready r JOIN @schema@.queues q ON q.name = r.queue AND q.paused
                              GROUP BY r.queue) p),
  'oldest_xact_seconds', (SELECT coalesce(extract(epoch FROM max(now() - xact_start)), 0)::float8 FROM sessions),
  'oldest_xact_pid', (SELECT pid FROM sessions ORDER BY xact_start LIMIT 1),
  'idle_in_transaction', (SELECT count(*) FROM sessions WHERE state LIKE 'idle in transaction%'),
  'idle_in_transaction_seconds', (SELECT coalesce(extract(epoch FROM max(now() - state_change)), 0)::float8
                                  FROM sessions WHERE state LIKE 'idle in transaction%'),
  'dead_tuples', (SELECT coalesce(n_dead_tup, 0) FROM pg_stat_user_tables
                  WHERE relid = to_regclass('@schema@.jobs')),
  'live_tuples', (SELECT coalesce(n_live_tup, 0) FROM pg_stat_user_tables
                  WHERE relid = to_regclass('@schema@.jobs')),
  'notify_queue_usage', pg_notification_queue_usage(),
  'partitions_ahead', (SELECT count(*) FROM generate_series(1, 2) AS d(n)
                       WHERE to_regclass(format('%I.%I', '@schema@', 'job_history_p' ||
                         to_char((now() AT TIME ZONE 'UTC')::date + d.n, 'YYYYMMDD'))) IS NOT NULL),
  'xid_age', (SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database())
)::text;
