-- The few statements of the dashboard and /metrics that the admin CLI has no
-- use for. Everything else the dashboard shows comes from sql/admin.sql and
-- sql/schedules_admin.sql, the statements the CLI runs.

-- name: web_throughput
-- Jobs that finished in the last $1 seconds, counted per $2-second bucket
-- and state, for the overview's charts: called once for the day in minutes,
-- which the overview folds into the hour's and the day's buckets. Reads the
-- window's rows through job_history_finished_at_brin.
SELECT coalesce(json_agg(json_build_object('at', b.at, 'succeeded', b.succeeded,
                                           'failed', b.failed, 'cancelled', b.cancelled)
                         ORDER BY b.at), '[]')::text
FROM (
  SELECT to_timestamp(floor(extract(epoch FROM finished_at) / $2::float8) * $2::float8) AS at,
         count(*) FILTER (WHERE state = 'succeeded') AS succeeded,
         count(*) FILTER (WHERE state = 'failed') AS failed,
         count(*) FILTER (WHERE state = 'cancelled') AS cancelled
  FROM @schema@.job_history
  WHERE finished_at > now() - make_interval(secs => $1::float8)
  GROUP BY 1
) b;

-- name: metrics_hot
-- Per queue and task, the waiting and running jobs: one pass over the hot
-- table, which holds only waiting and running jobs.
SELECT coalesce(json_agg(row_to_json(h) ORDER BY h.queue, h.task), '[]')::text
FROM (
  SELECT queue, task,
         count(*) FILTER (WHERE state = 'pending' AND run_at <= now()) AS pending,
         count(*) FILTER (WHERE state = 'pending' AND run_at > now()) AS scheduled,
         count(*) FILTER (WHERE state = 'running') AS running,
         coalesce(extract(epoch FROM now() - min(run_at)
                          FILTER (WHERE state = 'pending' AND run_at <= now())), 0)::float8
           AS oldest_pending_seconds
  FROM @schema@.jobs GROUP BY queue, task
) h;

-- name: metrics_finished
-- What finished after $1 (a previous answer's "upto"; NULL: since the
-- beginning) up to $3 seconds ago (10 by default), so that a completion
-- committed late (finished_at is its transaction's start) is still after the
-- next call's $1. Per queue, task and state: jobs and their
-- retried attempts; per queue and task: run-time and wait-time counts per
-- bucket of the bounds $2 (width_bucket: bucket i holds bounds[i] <= x <
-- bounds[i+1]) with their sums. /metrics adds these to its counters, so a
-- scrape reads only the rows that finished since the last one (through
-- job_history_finished_at_brin), and history is read in full once, at start.
WITH h AS MATERIALIZED (
  SELECT queue, task, state, attempt,
         extract(epoch FROM finished_at - started_at)::float8 AS run_s,
         extract(epoch FROM started_at - run_at)::float8 AS wait_s
  FROM @schema@.job_history
  WHERE ($1::timestamptz IS NULL OR finished_at > $1::timestamptz)
    AND finished_at <= now() - make_interval(secs => $3::float8)
)
SELECT json_build_object(
  'upto', now() - make_interval(secs => $3::float8),
  'states', (SELECT coalesce(json_agg(s), '[]') FROM (
               SELECT queue, task, state, count(*) AS jobs,
                      sum(greatest(attempt - 1, 0)) AS retried
               FROM h GROUP BY queue, task, state) s),
  'run', (SELECT coalesce(json_agg(r), '[]') FROM (
            SELECT queue, task, width_bucket(run_s, $2::float8[]) AS bucket, count(*) AS n,
                   sum(run_s) AS sum
            FROM h WHERE run_s IS NOT NULL GROUP BY 1, 2, 3) r),
  'wait', (SELECT coalesce(json_agg(w), '[]') FROM (
             SELECT queue, task, width_bucket(greatest(wait_s, 0), $2::float8[]) AS bucket,
                    count(*) AS n, sum(greatest(wait_s, 0)) AS sum
             FROM h WHERE wait_s IS NOT NULL GROUP BY 1, 2, 3) w)
)::text;

-- name: metrics_schedules
-- Per schedule: ticks made and skipped, and how late its last tick's job was
-- created after the time it was due (the job's created_at - scheduled_for;
-- 0 for a job made ahead of its tick; the last job is found by primary key,
-- hot or finished). Plus the live workers and the scheduler leader lease.
SELECT json_build_object(
  'schedules', (SELECT coalesce(json_agg(s ORDER BY s.name), '[]') FROM (
     SELECT sc.name, sc.enabled,
            -- a tick made ahead counts once it has come (migration 0020)
            sc.run_count - coalesce(sc.last_run_at > now(), false)::int AS run_count,
            sc.skipped_count,
            (SELECT greatest(extract(epoch FROM j.created_at - j.scheduled_for)::float8, 0)
             FROM (SELECT created_at, scheduled_for FROM @schema@.jobs WHERE id = sc.last_job_id
                   UNION ALL
                   SELECT created_at, scheduled_for FROM @schema@.job_history
                   WHERE id = sc.last_job_id) j
             LIMIT 1) AS last_tick_lateness_seconds
     FROM @schema@.schedules sc) s),
  'workers_alive', (SELECT count(*) FROM @schema@.workers
                    WHERE heartbeat_at
                          > now() - make_interval(secs => coalesce(lease_seconds + 10, 300))),
  'leaders', (SELECT coalesce(json_agg(json_build_object('name', name, 'holder', holder)), '[]')
              FROM @schema@.leader WHERE expires_at > now())
)::text;
