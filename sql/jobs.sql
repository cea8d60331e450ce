-- The job protocol (README, "The job protocol") as named statements. A
-- worker written in another language can follow the same protocol by running
-- these.
--
-- Arrays are passed as text literals ('{1,2,3}') cast in SQL, and batches of
-- records as one jsonb array read with jsonb_to_recordset: one round trip and
-- one parameter per batch, whatever its size.

-- name: enqueue
-- One job. $1 task, $2 args (jsonb text), $3 queue, $4 priority, $5 run_at
-- as Unix epoch seconds (NULL = now), $6 delay seconds (NULL = 0), $7 max_attempts, $8 timeout
-- seconds (NULL = none), $9 unique_key.
-- Goes through the SQL API so that the C++ client and SQL users share its
-- handling of the key's conflicts; a job without a key is enqueue_unkeyed.
SELECT @schema@.enqueue(
  task => $1, args => $2::jsonb, queue => $3, priority => $4::integer,
  run_at => to_timestamp($5::float8), delay => make_interval(secs => coalesce($6::float8, 0)),
  max_attempts => $7::integer,
  timeout => CASE WHEN $8::float8 IS NULL THEN NULL ELSE make_interval(secs => $8::float8) END,
  unique_key => $9);

-- name: enqueue_unkeyed
-- One job without a unique_key (the parameters of `enqueue`, less $9): the
-- same row as pgjobs.enqueue() inserts, as one plain INSERT. Without a key
-- there is no conflict to handle, and the PL/pgSQL call costs a single-job
-- enqueue about a tenth of its time (README, "Performance", "Enqueue").
INSERT INTO @schema@.jobs (task, args, queue, priority, run_at, max_attempts, timeout)
VALUES ($1, $2::jsonb, $3, $4::integer,
        coalesce(to_timestamp($5::float8), now() + make_interval(secs => coalesce($6::float8, 0))),
        $7::integer,
        CASE WHEN $8::float8 IS NULL THEN NULL ELSE make_interval(secs => $8::float8) END)
RETURNING id;

-- name: enqueue_many
-- Many jobs in one statement: $1 is a jsonb array of objects with the keys of
-- the jobs table (task required; others optional). Jobs with a unique_key that
-- already has a live job are skipped. Returns the new ids in input order.
-- One statement, so the NOTIFY trigger fires once per queue per batch.
WITH input AS (
  SELECT ord, x.*
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(job, ord),
       jsonb_to_record(e.job) AS x(task text, args jsonb, queue text, priority smallint,
                                   run_at_epoch float8, delay_seconds float8,
                                   max_attempts integer, timeout_seconds float8,
                                   unique_key text)
), inserted AS (
  INSERT INTO @schema@.jobs (task, args, queue, priority, run_at, max_attempts, timeout, unique_key)
  SELECT task, coalesce(args, '{}'), coalesce(queue, 'default'), coalesce(priority, 5),
         coalesce(to_timestamp(run_at_epoch),
                  now() + make_interval(secs => coalesce(delay_seconds, 0))),
         coalesce(max_attempts, 4),
         CASE WHEN timeout_seconds IS NULL THEN NULL ELSE make_interval(secs => timeout_seconds) END,
         unique_key
  FROM input ORDER BY ord
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
  RETURNING id
)
SELECT id FROM inserted ORDER BY id;

-- name: enqueue_many_unkeyed
-- enqueue_many for a batch in which no job has a unique_key: the same insert
-- without ON CONFLICT, whose speculative insertion costs every row about a
-- tenth of its insert even when no row has a key.
WITH input AS (
  SELECT ord, x.*
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(job, ord),
       jsonb_to_record(e.job) AS x(task text, args jsonb, queue text, priority smallint,
                                   run_at_epoch float8, delay_seconds float8,
                                   max_attempts integer, timeout_seconds float8)
), inserted AS (
  INSERT INTO @schema@.jobs (task, args, queue, priority, run_at, max_attempts, timeout)
  SELECT task, coalesce(args, '{}'), coalesce(queue, 'default'), coalesce(priority, 5),
         coalesce(to_timestamp(run_at_epoch),
                  now() + make_interval(secs => coalesce(delay_seconds, 0))),
         coalesce(max_attempts, 4),
         CASE WHEN timeout_seconds IS NULL THEN NULL ELSE make_interval(secs => timeout_seconds) END
  FROM input ORDER BY ord
  RETURNING id
)
SELECT id FROM inserted ORDER BY id;

-- name: claim
-- Claims up to $3 ready jobs of queue $1 whose task is in $2 (text[] literal)
-- for worker $4, leased for $5 seconds, under claim token $6 (random, chosen
-- by the worker for this claim). Highest priority first, then oldest run_at.
-- Shape: priorities are visited from 9 down; for each, one range scan of
-- jobs_claim_idx per handled task (queue, task and priority are equalities,
-- so `run_at <= now()` bounds the range: delayed jobs are never read, and
-- jobs of tasks this worker cannot run are never read either). The outer
-- LIMIT stops the loop as soon as $3 jobs are found, so lower priorities are
-- not even probed; an empty priority costs one index descent per task.
-- SKIP LOCKED lets many workers claim at once. Rows locked by an inner scan
-- but not kept by a LIMIT (several tasks at one priority) are released at
-- commit, a few milliseconds later. The UPDATE matches ids through
-- ANY(ARRAY(...)) so that the plan, generic or not, is primary-key probes.
-- Cursors ($8, a jsonb array of {"t": task, "p": priority, "r": run_at in
-- Unix microseconds, "i": id}, '[]' for none): where this worker's last
-- claim of that task and priority ended. The scan starts after it, so it
-- does not step again over the index entries of the jobs claimed before,
-- which stay in jobs_claim_idx, dead, until vacuum reaches them: without a
-- cursor a claim at the head of a 1,000,000-job backlog reads every entry
-- claimed since the last vacuum. Only when the range after the cursor has
-- too few jobs is the range before it read (jobs given back, or enqueued
-- with an earlier run_at); the worker drops its cursors every second, so
-- such jobs never wait longer than that for their turn.
-- The first $9 jobs, in the order they are to run, start at once (the
-- worker's free slots); the others are claimed ahead (prefetched) and marked
-- `ahead`, so that a crash of the worker does not count them an attempt
-- (migration 0016, rescue_expired). The array of those first jobs holds at
-- most $9 ids (the worker's free slots), not the whole claim.
-- A paused queue (queues.paused) yields nothing, and so does a queue with a
-- concurrency or rate limit unless $7 is true (the caller holds the queue's
-- claim_allowance in this transaction: see claim_allowance below). The check
-- does not depend on the rows, so it is a one-time filter, one primary-key
-- probe of the small queues table per claim, evaluated before any job is read.
WITH candidates AS (
  SELECT c.id, p.priority, c.run_at
  FROM generate_series(9, 0, -1) AS p(priority)
  CROSS JOIN LATERAL (
    SELECT k.id, k.run_at
    FROM unnest($2::text[]) AS t(task)
    CROSS JOIN LATERAL (
      SELECT coalesce(max(timestamptz 'epoch' + cr.r * interval '1 microsecond'),
                      '-infinity') AS run_at,
             coalesce(max(cr.i), 0) AS id
      FROM jsonb_to_recordset($8::jsonb) AS cr(t text, p integer, r bigint, i bigint)
      WHERE cr.t = t.task AND cr.p = p.priority
    ) cur
    CROSS JOIN LATERAL (
      SELECT a.id, a.run_at FROM (
        SELECT j.id, j.run_at
        FROM @schema@.jobs j
        WHERE j.state = 'pending' AND j.queue = $1 AND j.task = t.task
          AND j.priority = p.priority AND j.run_at <= now()
          AND (j.run_at, j.id) > (cur.run_at, cur.id)
        ORDER BY j.priority DESC, j.run_at, j.id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
      ) a
      UNION ALL
      SELECT b.id, b.run_at FROM (
        SELECT j.id, j.run_at
        FROM @schema@.jobs j
        WHERE j.state = 'pending' AND j.queue = $1 AND j.task = t.task
          AND j.priority = p.priority AND j.run_at <= now()
          AND (j.run_at, j.id) <= (cur.run_at, cur.id)
        ORDER BY j.priority DESC, j.run_at, j.id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
      ) b
      LIMIT $3
    ) k
    ORDER BY k.run_at, k.id
    LIMIT $3
  ) c
  WHERE NOT EXISTS (SELECT 1 FROM @schema@.queues q
                    WHERE q.name = $1
                      AND (q.paused OR (NOT $7::boolean AND (q.concurrency IS NOT NULL
                                                              OR q.rate_limit IS NOT NULL))))
  LIMIT $3
), claimed AS (
  UPDATE @schema@.jobs j
  SET state = 'running', attempt = j.attempt + 1, lease_owner = $4, lease_token = $6::bigint,
      lease_expires_at = statement_timestamp() + make_interval(secs => $5::float8),
      started_at = statement_timestamp(),
      ahead = j.id <> ALL(ARRAY(SELECT c.id FROM candidates c
                                ORDER BY c.priority DESC, c.run_at, c.id LIMIT $9))
  WHERE j.id = ANY(ARRAY(SELECT c.id FROM candidates c))
  RETURNING j.id, j.task, j.args::text AS args, j.attempt, j.max_attempts, j.priority,
            extract(epoch FROM j.timeout)::float8 AS timeout, j.queue, j.run_at
)
-- In the order the jobs are to run: the UPDATE returns them in id order.
-- The last column is run_at in Unix microseconds, for the cursors.
SELECT id, task, args, attempt, max_attempts, priority, timeout, queue,
       (extract(epoch FROM run_at) * 1000000)::bigint AS run_at_us
FROM claimed
ORDER BY priority DESC, run_at, id;

-- name: claim_allowance
-- A queue with a global limit (migration 0008) is claimed in a transaction:
-- claim_allowance (locks the queue's row: claims of this queue take turns,
-- other queues are not concerned), then `claim` with $3 = allowed and $7 =
-- true, then record_claims with the ids claimed. Returns how many jobs may
-- be claimed now (at most $2), when the rate limit lets more through
-- (seconds, or NULL), and whether the queue has a limit at all. The claim
-- stamps started_at with its statement's start, after the allowance was
-- given, so no sliding window of started_at holds more than the rate.
SELECT allowed, retry_in, limited FROM @schema@.claim_allowance($1, $2::integer);

-- name: record_claims
-- The ids ($2, bigint[] literal) a limited claim took under claim token $3.
SELECT @schema@.record_claims($1, $2::bigint[], $3::bigint);

-- name: next_run_at
-- Seconds from now until the earliest run_at in queue $1 among tasks $2 that is
-- later than $3 seconds ago, or NULL when there is none. $3 is how long ago
-- the caller's claim started (measured on the caller's clock, so no clock
-- skew enters): a job that became ready between that claim and this
-- statement was too early for the one and would be too late for a search of
-- future jobs only; it is found here, with a negative wait (claim now). The
-- window can still start a little after the claim did (the time this
-- statement takes to reach the server); the worker's own retries are also
-- woken at their time by the worker (src/worker/fetcher.cc). Per task and
-- priority the index gives the answer in one probe, so this stays cheap
-- under a large backlog. The second column
-- says whether the queue has a global limit (then it is claimed through
-- claim_allowance): a worker learns of a new limit at its next short claim.
SELECT extract(epoch FROM min(n.run_at) - now())::float8,
       EXISTS (SELECT 1 FROM @schema@.queues q
               WHERE q.name = $1 AND (q.concurrency IS NOT NULL OR q.rate_limit IS NOT NULL))
FROM unnest($2::text[]) AS t(task)
CROSS JOIN generate_series(0, 9) AS p(priority)
CROSS JOIN LATERAL (
  SELECT j.run_at FROM @schema@.jobs j
  WHERE j.state = 'pending' AND j.queue = $1 AND j.task = t.task
    AND j.priority = p.priority AND j.run_at > now() - make_interval(secs => $3::float8)
  ORDER BY j.priority DESC, j.run_at
  LIMIT 1
) n;

-- name: renew_leases
-- The heartbeat: extends to now() + $4 seconds the lease of every claim
-- (ids $2, tokens $3: bigint[] literals, pairwise) held by worker $1, in one
-- statement, and records which of them have not started yet ($5, boolean[]
-- literal, pairwise: `ahead`, see migration 0016). Claims not returned were
-- lost (rescued, maybe claimed again): the worker stops them.
-- Shape (shared by every statement about running jobs): the batch drives,
-- sorted by id, and each claim is found and locked by one primary-key probe
-- (LATERAL), so the cost is the batch's size whatever the statistics say and
-- row locks are always taken in id order (no deadlock with completions or
-- give-backs). `state = 'running'` is not written: the claim token is only
-- set while a job runs (constraint jobs_lease_token_only_while_running), and
-- naming the state would offer the planner jobs_lease_idx, whose scan over
-- every running job looks free when the statistics say nothing runs.
WITH held AS MATERIALIZED (
  SELECT h.id, t.ahead
  FROM (SELECT * FROM unnest($2::bigint[], $3::bigint[], $5::boolean[]) AS t(id, token, ahead)
        ORDER BY id) t
  CROSS JOIN LATERAL (
    SELECT j.id FROM @schema@.jobs j
    WHERE j.id = t.id AND j.lease_token = t.token AND j.lease_owner = $1
    FOR UPDATE
  ) h
)
UPDATE @schema@.jobs j
SET lease_expires_at = now() + make_interval(secs => $4::float8),
    ahead = coalesce(h.ahead, false)
FROM held h
WHERE j.id = ANY(ARRAY(SELECT id FROM held)) AND h.id = j.id
RETURNING j.id, j.lease_token, j.cancel_requested;

-- name: complete
-- Records a batch of attempt outcomes for worker $1. $2 is a jsonb array of
-- {id, token, attempt, outcome, result, error, retry_in, started_after,
-- progress} (progress: the last progress not yet written, or absent):
-- outcome is 'succeeded', 'failed' (a failed attempt: retried after retry_in
-- seconds while attempts remain, else final), 'discard' (failed, no retry),
-- 'cancelled', or 'snooze' (back to pending after retry_in seconds without
-- using an attempt). started_after is how long after the claim the handler
-- started (prefetched jobs wait in memory), in seconds of the worker's steady
-- clock, added to the database's claim time.
-- Every row is fenced on its claim (id, claim token, lease owner): a result
-- that arrives after the job was rescued or given back matches nothing and
-- is dropped. That fence also makes re-running a batch whose commit outcome
-- is unknown harmless: once written, a claim is gone.
-- Shape: a batch of at most 1,000 outcomes that all end their jobs
-- (succeeded, discard, cancelled: the common case) is deleted at once. The
-- DELETE is driven by the batch's ids through the primary key and fenced in
-- its join with the batch; it locks each row as it deletes it, in id order
-- (whichever side a hash join builds, the rows come out in the order of the
-- other, and both are sorted by id; the size bound keeps the hash in memory,
-- where it is not split into batches that would come out one after another;
-- a nested loop or a merge join visits the ids in order too). Otherwise
-- (some outcome's end depends on the row: 'failed' ends the job only on its
-- last attempt, and a requested cancel ends a failure or a snooze), `held`
-- first finds and locks every claim of the batch by a primary-key probe in
-- id order and decides (see renew_leases for why, and why the state is not
-- named); the DELETE and UPDATE then touch only those rows and never wait.
-- Locking first only when needed saves each job of a successful batch a row
-- lock: a WAL record, and about a sixth of the statement's time. A batch
-- takes one way or the other, never both: mixing them would lock out of id
-- order.
-- A row changed meanwhile (a cancel requested, a lease renewed) is checked
-- again by PostgreSQL against the fence before it is deleted: a job that was
-- rescued and claimed again no longer matches, and is not touched.
-- A job whose cancel was requested (pgjobs.cancel) is never retried: an
-- attempt that fails or snoozes meanwhile ends it as cancelled.
-- Returns (id, token, 'finished' | 'retried'); claims not returned were
-- fenced out.
WITH input AS MATERIALIZED (
  SELECT * FROM jsonb_to_recordset($2::jsonb)
    AS x(id bigint, token bigint, attempt integer, outcome text, result jsonb, error jsonb,
         retry_in float8, started_after float8, progress jsonb)
  ORDER BY id
), mode AS MATERIALIZED (
  SELECT coalesce(count(*) > 1000
                  OR bool_or(outcome NOT IN ('succeeded', 'discard', 'cancelled')), false)
           AS lock_first
  FROM input
), held AS MATERIALIZED (
  -- Only when locking first (a one-time filter: otherwise nothing here runs).
  SELECT i.*, h.final
  FROM input i
  CROSS JOIN LATERAL (
    SELECT (i.outcome IN ('succeeded', 'discard', 'cancelled')
            OR (i.outcome = 'failed' AND j.attempt >= j.max_attempts)
            OR j.cancel_requested) AS final
    FROM @schema@.jobs j
    WHERE j.id = i.id AND j.lease_token = i.token AND j.lease_owner = $1
    FOR UPDATE
  ) h
  WHERE (SELECT lock_first FROM mode)
), finished AS (
  DELETE FROM @schema@.jobs j
  USING input i
  WHERE j.id = ANY(ARRAY(SELECT i2.id FROM input i2
                         WHERE NOT (SELECT lock_first FROM mode)
                         UNION ALL
                         SELECT h.id FROM held h WHERE h.final))
    AND i.id = j.id AND j.lease_token = i.token AND j.lease_owner = $1
  RETURNING j.*, i.outcome, i.result AS outcome_result, i.error AS outcome_error,
            i.progress AS outcome_progress, i.started_after
), history AS (
  INSERT INTO @schema@.job_history
    (id, queue, task, args, priority, state, attempt, max_attempts, result, errors,
     progress, unique_key, schedule_id, scheduled_for, worker_id, created_at, run_at,
     started_at, finished_at, retry_of, cancelled_by)
  SELECT f.id, f.queue, f.task, f.args, f.priority,
         CASE WHEN f.outcome = 'succeeded' THEN 'succeeded'
              WHEN f.outcome = 'cancelled' OR f.cancel_requested THEN 'cancelled'
              ELSE 'failed' END,
         f.attempt, f.max_attempts, f.outcome_result,
         CASE WHEN f.outcome_error IS NULL THEN f.errors
              ELSE f.errors || jsonb_build_array(f.outcome_error || jsonb_build_object('at', now())) END,
         coalesce(f.outcome_progress, f.progress), f.unique_key, f.schedule_id, f.scheduled_for,
         $1, f.created_at, f.run_at,
         f.started_at + make_interval(secs => coalesce(f.started_after, 0)), now(),
         f.retry_of, f.cancelled_by
  FROM finished f
), retried AS (
  UPDATE @schema@.jobs j
  SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL,
      run_at = now() + make_interval(secs => coalesce(h.retry_in, 0)),
      attempt = CASE WHEN h.outcome = 'snooze' THEN j.attempt - 1 ELSE j.attempt END,
      progress = coalesce(h.progress, j.progress),
      errors = CASE WHEN h.error IS NULL THEN j.errors
                    ELSE j.errors || jsonb_build_array(h.error || jsonb_build_object('at', now())) END
  FROM held h
  WHERE j.id = ANY(ARRAY(SELECT h2.id FROM held h2 WHERE NOT h2.final)) AND h.id = j.id
  RETURNING j.id, h.token
)
SELECT id, lease_token, 'finished' FROM finished
UNION ALL
SELECT id, token, 'retried' FROM retried;

-- name: give_back
-- Returns the claims (ids $2, tokens $3, pairwise) held by worker $1 to
-- pending at once, without using an attempt: the worker is shutting down
-- and did not finish them. An error entry $4 (jsonb) records it.
-- Shape as renew_leases: primary-key probes in id order.
WITH held AS MATERIALIZED (
  SELECT h.id, t.token
  FROM (SELECT * FROM unnest($2::bigint[], $3::bigint[]) AS t(id, token) ORDER BY id) t
  CROSS JOIN LATERAL (
    SELECT j.id FROM @schema@.jobs j
    WHERE j.id = t.id AND j.lease_token = t.token AND j.lease_owner = $1
    FOR UPDATE
  ) h
)
UPDATE @schema@.jobs j
SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL,
    run_at = now(), attempt = j.attempt - 1, started_at = NULL,
    errors = j.errors || jsonb_build_array($4::jsonb || jsonb_build_object('at', now(), 'attempt', j.attempt))
FROM held h
WHERE j.id = ANY(ARRAY(SELECT id FROM held)) AND h.id = j.id
RETURNING j.id, h.token;

-- name: set_progress
-- Progress for a batch of running jobs of worker $1: $2 is a jsonb array of
-- {id, token, progress}. Fenced like completion; shaped like renew_leases.
WITH held AS MATERIALIZED (
  SELECT h.id, i.progress
  FROM (SELECT * FROM jsonb_to_recordset($2::jsonb) AS i(id bigint, token bigint, progress jsonb)
        ORDER BY id) i
  CROSS JOIN LATERAL (
    SELECT j.id FROM @schema@.jobs j
    WHERE j.id = i.id AND j.lease_token = i.token AND j.lease_owner = $1
    FOR UPDATE
  ) h
)
UPDATE @schema@.jobs j
SET progress = h.progress
FROM held h
WHERE j.id = ANY(ARRAY(SELECT id FROM held)) AND h.id = j.id;

-- name: rescue_expired
-- Jobs whose lease expired (their worker died or lost the database): back to
-- pending with a "worker lost" error, the attempt counted; jobs that used
-- their last attempt go to history as failed. At most $1 per call; SKIP
-- LOCKED lets several rescuers run at once and never waits on a worker.
-- A job whose cancel was requested is not run again: it goes to history as
-- cancelled. Returns (id, 'retried' | 'failed' | 'cancelled').
-- Jobs claimed ahead (`ahead`, migration 0016: as far as the database knows,
-- waiting in the worker's memory, not started) go back without using an
-- attempt; their error entry says "counted": false. But a job that started
-- and killed its worker before the next heartbeat also looks not started.
-- A worker starts its jobs in the order it claimed them (claim time, then
-- the claim's order), so such a job is among the first of the worker's
-- ahead jobs of its queue in that order: the first 2 × the queue's
-- concurrency (the jobs running beside it, and finished ones whose outcome
-- was not written yet, come before it) "may have started". Those go to the
-- back of the queue and get at most 2 free returns, after which the crash
-- counts, so a job that crashes its worker on every attempt runs out of
-- attempts. The others keep their place (run_at), so after a crash the jobs
-- that certainly did not cause it run before the ones that may have. Every
-- job gets at most 10 free returns in all, whatever the order says.
-- Shape: a range scan of jobs_lease_idx over expired leases only, stopped by
-- the LIMIT (no ORDER BY: any expired lease will do, and sorting would read
-- every expired lease first), then primary-key access for the changes.
WITH expired AS MATERIALIZED (
  SELECT id FROM @schema@.jobs
  WHERE state = 'running' AND lease_expires_at < now()
  LIMIT $1
  FOR UPDATE SKIP LOCKED
), ranked AS MATERIALIZED (
  SELECT j.id, j.ahead, j.cancel_requested, j.attempt, j.max_attempts,
         row_number() OVER (PARTITION BY j.lease_owner, j.queue, j.ahead
                            ORDER BY j.started_at, j.priority DESC, j.run_at, j.id) AS place,
         (SELECT count(*) FROM jsonb_array_elements(j.errors) e
          WHERE e->>'kind' = 'worker_lost' AND e->'counted' = 'false') AS free_returns,
         (SELECT count(*) FROM jsonb_array_elements(j.errors) e
          WHERE e->>'kind' = 'worker_lost' AND e->'counted' = 'false'
            AND e->'maybe_started' = 'true') AS maybe_started_returns,
         coalesce((SELECT CASE WHEN jsonb_typeof(w.queues->j.queue) = 'number'
                               THEN (w.queues->>j.queue)::numeric::integer END
                   FROM @schema@.workers w WHERE w.id = j.lease_owner), 4) AS slots
  FROM @schema@.jobs j
  WHERE j.id = ANY(ARRAY(SELECT id FROM expired))
), judged AS MATERIALIZED (
  SELECT id, maybe_started, refund,
         cancel_requested OR (attempt >= max_attempts AND NOT refund) AS ends
  FROM (SELECT id, cancel_requested, attempt, max_attempts,
               ahead AND place <= 2 * slots AS maybe_started,
               ahead AND free_returns < 10 AND (place > 2 * slots OR maybe_started_returns < 2) AS refund
        FROM ranked) r
), failed AS (
  DELETE FROM @schema@.jobs j
  WHERE j.id = ANY(ARRAY(SELECT id FROM judged WHERE ends))
  RETURNING j.*
), history AS (
  INSERT INTO @schema@.job_history
    (id, queue, task, args, priority, state, attempt, max_attempts, result, errors,
     progress, unique_key, schedule_id, scheduled_for, worker_id, created_at, run_at,
     started_at, finished_at, retry_of, cancelled_by)
  SELECT f.id, f.queue, f.task, f.args, f.priority,
         CASE WHEN f.cancel_requested THEN 'cancelled' ELSE 'failed' END,
         f.attempt - CASE WHEN d.refund THEN 1 ELSE 0 END, f.max_attempts, NULL,
         f.errors || jsonb_build_array(jsonb_build_object(
           'attempt', f.attempt, 'at', now(), 'kind', 'worker_lost', 'worker', f.lease_owner,
           'error', 'worker lost: its lease expired before the job finished')
           || CASE WHEN d.refund THEN jsonb_build_object('counted', false, 'maybe_started', d.maybe_started)
                   ELSE '{}' END),
         f.progress, f.unique_key, f.schedule_id, f.scheduled_for, f.lease_owner, f.created_at,
         f.run_at, f.started_at, now(), f.retry_of, f.cancelled_by
  FROM failed f JOIN judged d ON d.id = f.id
), counted AS (
  -- Back to the end of the queue, the attempt used.
  UPDATE @schema@.jobs j
  SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL,
      run_at = now(),
      errors = j.errors || jsonb_build_array(jsonb_build_object(
        'attempt', j.attempt, 'at', now(), 'kind', 'worker_lost', 'worker', j.lease_owner,
        'error', 'worker lost: its lease expired before the job finished'))
  WHERE j.id = ANY(ARRAY(SELECT id FROM judged WHERE NOT ends AND NOT refund))
  RETURNING j.id
), free AS (
  -- Without using an attempt: in place if it certainly did not start, else
  -- to the end of the queue. One statement per case, so that each is driven
  -- by its ids alone (no join the planner could turn into a scan per id).
  UPDATE @schema@.jobs j
  SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL,
      attempt = j.attempt - 1,
      errors = j.errors || jsonb_build_array(jsonb_build_object(
        'attempt', j.attempt, 'at', now(), 'kind', 'worker_lost', 'worker', j.lease_owner,
        'counted', false, 'maybe_started', false,
        'error', 'worker lost before it started the job (claimed ahead): returned without using an attempt'))
  WHERE j.id = ANY(ARRAY(SELECT id FROM judged WHERE NOT ends AND refund AND NOT maybe_started))
  RETURNING j.id
), free_maybe_started AS (
  UPDATE @schema@.jobs j
  SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL,
      run_at = now(), attempt = j.attempt - 1,
      errors = j.errors || jsonb_build_array(jsonb_build_object(
        'attempt', j.attempt, 'at', now(), 'kind', 'worker_lost', 'worker', j.lease_owner,
        'counted', false, 'maybe_started', true,
        'error', 'worker lost, maybe before it started the job (claimed ahead): returned without using an attempt'))
  WHERE j.id = ANY(ARRAY(SELECT id FROM judged WHERE NOT ends AND refund AND maybe_started))
  RETURNING j.id
)
SELECT id, CASE WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END FROM failed
UNION ALL
SELECT id, 'retried' FROM counted
UNION ALL
SELECT id, 'retried' FROM free
UNION ALL
SELECT id, 'retried' FROM free_maybe_started;

-- name: release_untracked
-- Claims of worker $1 that it does not know it holds (the claim committed but
-- its reply was lost with the connection): back to pending at once, without
-- using an attempt, instead of waiting for the lease to expire. $2, $3 are
-- the ids and tokens (pairwise) the worker holds; only claims older than 5 s
-- are considered, so a claim whose reply is still on its way is left alone.
-- Reads the worker's running jobs (jobs_lease_idx: running jobs only, never
-- the pending backlog), so the worker runs it only after a claim whose reply
-- it did not get (and once at start), never on every heartbeat.
-- Shape: the claims held are taken away from the worker's running jobs by
-- EXCEPT (hashed or sorted: never a scan of one list per entry of the other,
-- which with statistics saying nothing runs was planned as a nested loop
-- over every running job times the worker's claims and ran for minutes);
-- what remains is locked by primary-key probes in id order, skipping rows
-- locked meanwhile (a completion or a rescue is writing them), so this never
-- waits on the worker's own completions.
WITH untracked AS MATERIALIZED (
  SELECT j.id, j.lease_token AS token
  FROM @schema@.jobs j
  WHERE j.state = 'running' AND j.lease_owner = $1 AND j.lease_expires_at IS NOT NULL
    AND j.started_at < now() - interval '5 seconds'
  EXCEPT
  SELECT t.id, t.token FROM unnest($2::bigint[], $3::bigint[]) AS t(id, token)
), held AS MATERIALIZED (
  SELECT h.id
  FROM (SELECT * FROM untracked ORDER BY id) u
  CROSS JOIN LATERAL (
    SELECT j.id FROM @schema@.jobs j
    WHERE j.id = u.id AND j.lease_token = u.token AND j.lease_owner = $1
    FOR UPDATE SKIP LOCKED
  ) h
)
UPDATE @schema@.jobs j
SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL,
    run_at = now(), attempt = j.attempt - 1, started_at = NULL,
    errors = j.errors || jsonb_build_array(jsonb_build_object(
      'attempt', j.attempt, 'at', now(), 'kind', 'given_back', 'worker', $1,
      'error', 'claimed, but the claim never reached the worker (its connection broke); returned to the queue'))
FROM held h
WHERE j.id = ANY(ARRAY(SELECT id FROM held)) AND h.id = j.id
RETURNING j.id;
