-- The Redis broker (README, "Redis broker"): the relay that pushes ready jobs
-- of Redis queues to Redis streams, and the claim of the ids a worker read
-- from a stream. PostgreSQL stays authoritative: a stream entry is only a
-- hint that a job is ready; the claim below decides, under the same claim
-- token fence as `claim`, so a stale or duplicate entry cannot start a
-- second run of a job.

-- name: redis_queues
-- The queues carried by Redis, with whether they are paused and whether they
-- have a global limit (a limited queue is claimed through PostgreSQL, where
-- the limit is exact, whatever its broker).
SELECT name, paused, (concurrency IS NOT NULL OR rate_limit IS NOT NULL) AS limited
FROM @schema@.queues
WHERE broker = 'redis'
ORDER BY name;

-- name: relay_dispatch
-- Marks up to $2 ready jobs of queue $1 as pushed now and returns them (id,
-- priority) for the relay to XADD, best first. Due for a push: never pushed,
-- back to pending since the push (dispatched_at < run_at: every way back to
-- pending sets run_at to now() or later), or pushed more than $3 seconds ago
-- and still not claimed (the entry was lost with Redis' data, or sits with a
-- dead consumer). Only tasks that some registered worker of the queue has a
-- handler for are pushed: a job for a task nobody runs waits in PostgreSQL,
-- visible, as on a PostgreSQL queue.
-- Shape: the claim's (see `claim` in jobs.sql): priorities from 9 down, for
-- each one range scan of jobs_claim_idx per handled task, stopped by the
-- LIMIT, so the cost is the batch (plus the rows pushed and not yet claimed,
-- which sit at the head of each range and are kept to the relay's window),
-- never the backlog: a plan that sorted every ready job read the whole
-- backlog for each batch. SKIP LOCKED leaves rows being claimed alone.
WITH tasks AS MATERIALIZED (
  SELECT DISTINCT jsonb_array_elements_text(w.tasks) AS task
  FROM @schema@.workers w
  WHERE w.queues ? $1
), c AS MATERIALIZED (
  SELECT k.id
  FROM generate_series(9, 0, -1) AS p(priority)
  CROSS JOIN LATERAL (
    SELECT x.id
    FROM tasks t
    CROSS JOIN LATERAL (
      SELECT j.id, j.run_at
      FROM @schema@.jobs j
      WHERE j.state = 'pending' AND j.queue = $1 AND j.task = t.task
        AND j.priority = p.priority AND j.run_at <= now()
        AND (j.dispatched_at IS NULL OR j.dispatched_at < j.run_at
             OR j.dispatched_at < now() - make_interval(secs => $3::float8))
      ORDER BY j.priority DESC, j.run_at, j.id
      LIMIT $2
      FOR UPDATE SKIP LOCKED
    ) x
    ORDER BY x.run_at, x.id
    LIMIT $2
  ) k
  LIMIT $2
)
UPDATE @schema@.jobs j
SET dispatched_at = now()
WHERE j.id = ANY(ARRAY(SELECT c.id FROM c))
RETURNING j.id, j.priority;

-- name: relay_undispatch
-- Jobs ($1, bigint[] literal) whose push failed or whose entry was read but
-- could not be claimed (queue paused, task not handled by that worker):
-- pushed again by the next relay round. Pending rows only.
UPDATE @schema@.jobs
SET dispatched_at = NULL
WHERE id = ANY($1::bigint[]) AND state = 'pending';

-- name: claim_ids
-- The claim of a Redis queue: the jobs among ids $2 (bigint[] literal, read
-- from the queue's streams) that are still pending, ready and of a task in $3
-- (text[] literal), for worker $4, leased for $5 seconds under claim token
-- $6; none while queue $1 is paused. Returns the columns of `claim`. An id
-- already claimed, finished or cancelled is simply not returned: its entry
-- was stale. Shape: primary-key probes in id order, SKIP LOCKED. The state
-- is tested as `<> 'running'` (pending is the only other state of a row in
-- jobs: jobs_state_pending_or_running): naming 'pending' would offer the
-- planner jobs_claim_idx, scanned over the queue's whole pending range once
-- per id, which looks free when the statistics say nothing is pending.
-- Every job is claimed as started (`ahead` false, migration 0016); the
-- heartbeat marks the ones still waiting in the worker's memory.
WITH candidates AS (
  SELECT j.id
  FROM (SELECT DISTINCT unnest($2::bigint[]) AS id ORDER BY 1) t
  CROSS JOIN LATERAL (
    SELECT j.id FROM @schema@.jobs j
    WHERE j.id = t.id AND j.state <> 'running' AND j.queue = $1
      AND j.task = ANY($3::text[]) AND j.run_at <= now()
    FOR UPDATE SKIP LOCKED
  ) j
  WHERE NOT EXISTS (SELECT 1 FROM @schema@.queues q WHERE q.name = $1 AND q.paused)
), claimed AS (
  UPDATE @schema@.jobs j
  SET state = 'running', attempt = j.attempt + 1, lease_owner = $4, lease_token = $6::bigint,
      lease_expires_at = statement_timestamp() + make_interval(secs => $5::float8),
      started_at = statement_timestamp(), ahead = false
  WHERE j.id = ANY(ARRAY(SELECT c.id FROM candidates c))
  RETURNING j.id, j.task, j.args::text AS args, j.attempt, j.max_attempts, j.priority,
            extract(epoch FROM j.timeout)::float8 AS timeout, j.queue, j.run_at
)
SELECT id, task, args, attempt, max_attempts, priority, timeout, queue,
       (extract(epoch FROM run_at) * 1000000)::bigint AS run_at_us
FROM claimed
ORDER BY priority DESC, run_at, id;

-- name: queue_set_broker
-- Sets the broker of queue $1 to $2 ('postgres' or 'redis'), creating its
-- settings row if needed.
INSERT INTO @schema@.queues (name, broker) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET broker = excluded.broker, updated_at = now();

-- name: relay_lock
-- The relay's leader election: a session advisory lock, held for as long as
-- the relay's connection lives (a crashed leader's lock goes with its
-- session). Returns true when this session is (or became) the leader.
SELECT pg_try_advisory_lock(hashtext('@schema@.redis_relay'));
