-- The scheduler (README, "Scheduling"). Times cross the wire as Unix epoch
-- seconds (float8) so that the C++ side needs no timestamp parsing.

-- name: schedules_to_plan
-- Schedules whose next tick must be computed (new, edited, re-enabled), locked
-- so that one scheduler computes each. $1 = batch size. last_run_at keeps a
-- re-planned schedule from firing again a tick it already made a job for
-- (a once schedule disabled and enabled again). updated_at is when its
-- timing was last set (created, edited, enabled: the schedules_changed
-- trigger): the first tick is the first after it, looking back at most 30 s
-- (src/store/schedule_store.cc), so a tick that came just before a
-- scheduler saw the schedule is made late rather than lost.
SELECT id, kind, cron, extract(epoch FROM every)::float8, extract(epoch FROM at)::float8,
       time_zone, extract(epoch FROM start_at)::float8, extract(epoch FROM end_at)::float8,
       extract(epoch FROM created_at)::float8, extract(epoch FROM now())::float8,
       extract(epoch FROM last_run_at)::float8, extract(epoch FROM updated_at)::float8
FROM @schema@.schedules
WHERE enabled AND NOT done AND error IS NULL AND next_run_at IS NULL
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: set_plans
-- $1: jsonb array of {id, next (epoch, or null), done, error}.
UPDATE @schema@.schedules s
SET next_run_at = to_timestamp(x.next), done = x.done, error = x.error
FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, next float8, done boolean, error text)
WHERE s.id = x.id;

-- name: due_schedules
-- Schedules with a tick due, locked: the lock is what makes a tick fire once
-- with many schedulers (a second scheduler skips the row, or re-reads it
-- after the first commits and finds next_run_at moved on). $1 = batch size.
-- $2 = fire ahead, in seconds (0: off): a schedule with overlap 'allow' whose
-- next tick comes within that time is returned too, so that its job is made
-- ahead, unless a tick of it made ahead is still to come (last_run_at in the
-- future): one tick ahead at most.
-- The caller runs it with enable_sort off (SET LOCAL): on a schedules table
-- never analyzed, PostgreSQL otherwise read every due schedule through a
-- bitmap and sorted them, for each batch (100,000 schedules due at once:
-- 100,000 rows read per batch of 500); with sorts disabled the only plan left
-- walks schedules_due_idx in order and stops after $1 rows.
-- has_live_job serves the overlap policy. It is a scalar subquery ordered as
-- jobs_schedule_tick_idx, not an EXISTS: PostgreSQL may run an EXISTS as one
-- hash of the whole jobs table per call, which it chose when it planned the
-- statement on an empty jobs table, and which read every job for each batch
-- (100,000 schedules firing at once: 14,000 jobs read per batch of 500, and
-- growing). This shape is one probe of the index per due schedule.
SELECT s.id, s.kind, s.cron, extract(epoch FROM s.every)::float8, extract(epoch FROM s.at)::float8,
       s.time_zone, extract(epoch FROM s.start_at)::float8, extract(epoch FROM s.end_at)::float8,
       extract(epoch FROM s.created_at)::float8, extract(epoch FROM now())::float8,
       extract(epoch FROM s.next_run_at)::float8, s.misfire, s.catch_up_limit, s.overlap,
       coalesce((SELECT true FROM @schema@.jobs j WHERE j.schedule_id = s.id
                 ORDER BY j.schedule_id, j.scheduled_for LIMIT 1), false) AS has_live_job,
       s.name
FROM @schema@.schedules s
WHERE s.enabled AND NOT s.done AND s.error IS NULL
  AND s.next_run_at <= now() + make_interval(secs => $2::float8)
  AND (s.next_run_at <= now()
       OR (s.overlap = 'allow' AND (s.last_run_at IS NULL OR s.last_run_at <= now())))
ORDER BY s.next_run_at
LIMIT $1
FOR UPDATE OF s SKIP LOCKED;

-- name: insert_ticks
-- One job per tick from each schedule's job template. $1: jsonb array of
-- {schedule_id, at (epoch)}. A tick made ahead waits for its time (run_at);
-- a due one runs now. The unique (schedule_id, scheduled_for) index
-- turns a duplicate tick into nothing. Returns the jobs made. One statement
-- for the whole batch; only when it fails does the caller find the schedules
-- at fault, by running it again on halves of the batch under savepoints.
INSERT INTO @schema@.jobs (task, args, queue, priority, max_attempts, timeout, schedule_id,
                           scheduled_for, run_at)
SELECT s.task, s.args, s.queue, s.priority, s.max_attempts, s.timeout, s.id, to_timestamp(t.at),
       greatest(now(), to_timestamp(t.at))
FROM jsonb_to_recordset($1::jsonb) AS t(schedule_id bigint, at float8)
JOIN @schema@.schedules s ON s.id = t.schedule_id
ORDER BY t.schedule_id, t.at
ON CONFLICT (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL DO NOTHING
RETURNING id, schedule_id, extract(epoch FROM scheduled_for)::float8;

-- name: advance_schedules
-- $1: jsonb array of {id, next (epoch or null), done, last_run (epoch or null),
-- last_job_id, fired, skipped}.
-- A schedule that made a tick keeps its last run and job before it in
-- prior_run_at and prior_job_id (migration 0020).
UPDATE @schema@.schedules s
SET next_run_at = to_timestamp(x.next),
    done = x.done,
    prior_run_at = CASE WHEN x.last_run IS NULL THEN s.prior_run_at ELSE s.last_run_at END,
    prior_job_id = CASE WHEN x.last_run IS NULL THEN s.prior_job_id ELSE s.last_job_id END,
    last_run_at = coalesce(to_timestamp(x.last_run), s.last_run_at),
    last_job_id = coalesce(x.last_job_id, s.last_job_id),
    run_count = s.run_count + x.fired,
    skipped_count = s.skipped_count + x.skipped
FROM jsonb_to_recordset($1::jsonb)
  AS x(id bigint, next float8, done boolean, last_run float8, last_job_id bigint,
       fired integer, skipped integer)
WHERE s.id = x.id;

-- name: set_fire_errors
-- Schedules whose tick's job could not be inserted. $1: jsonb array of {id,
-- error}. next_run_at is kept, so the schedule shows the tick that failed;
-- the schedules_changed trigger plans it again once the error is cleared.
UPDATE @schema@.schedules s
SET error = x.error
FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, error text)
WHERE s.id = x.id;

-- name: next_schedule_in
-- Seconds until the earliest next tick (NULL: none), and whether some
-- schedule waits to be planned. Both are one probe of schedules_due_idx
-- (its NULLs sort last), so an idle scheduler's look costs the same with
-- 100,000 schedules as with ten.
SELECT extract(epoch FROM (SELECT s.next_run_at FROM @schema@.schedules s
                           WHERE s.enabled AND NOT s.done AND s.error IS NULL
                             AND s.next_run_at IS NOT NULL
                           ORDER BY s.next_run_at LIMIT 1) - now())::float8,
       EXISTS (SELECT 1 FROM @schema@.schedules s
               WHERE s.enabled AND NOT s.done AND s.error IS NULL AND s.next_run_at IS NULL);

-- name: acquire_lease
-- Takes or renews lease $1 for holder $2 for $3 seconds; returns a row only
-- when $2 holds it afterwards. The database's clock decides expiry.
INSERT INTO @schema@.leader AS l (name, holder, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3::float8))
ON CONFLICT (name) DO UPDATE
SET holder = excluded.holder, expires_at = excluded.expires_at,
    acquired_at = CASE WHEN l.holder = excluded.holder THEN l.acquired_at ELSE now() END
WHERE l.holder = excluded.holder OR l.expires_at < now()
RETURNING holder;

-- name: release_lease
DELETE FROM @schema@.leader WHERE name = $1 AND holder = $2;

-- name: drop_old_partitions
-- Retention: history partitions older than $1 seconds, under the same lock as
-- partition creation.
SELECT CASE WHEN pg_try_advisory_xact_lock(hashtext('@schema@.ensure_partitions'))
                 AND set_config('lock_timeout', '500ms', true) IS NOT NULL
            THEN @schema@.drop_history_partitions(make_interval(secs => $1::float8)) END;

-- name: bloated_job_indexes
-- Indexes of the hot table at least $1 bytes large and more than four times
-- what its live rows need (100 bytes a row, 256 kB at least): what a drained
-- backlog leaves. Vacuum frees their pages for reuse but never gives them
-- back; REINDEX CONCURRENTLY does, without blocking claims or enqueues.
SELECT i.indexrelid::regclass::text
FROM pg_index i
WHERE i.indrelid = '@schema@.jobs'::regclass AND i.indisvalid
  AND pg_relation_size(i.indexrelid) >= $1::bigint
  AND pg_relation_size(i.indexrelid) > 4 * greatest(262144,
        100 * (SELECT coalesce(n_live_tup, 0) FROM pg_stat_user_tables
               WHERE relid = '@schema@.jobs'::regclass))
ORDER BY 1;

-- name: leftover_job_indexes
-- Invalid indexes left on the hot table by an interrupted REINDEX
-- CONCURRENTLY (named ..._ccnew or ..._ccold): they cost every write.
SELECT i.indexrelid::regclass::text
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = '@schema@.jobs'::regclass AND NOT i.indisvalid
  AND c.relname ~ '_cc(new|old)[0-9]*$'
ORDER BY 1;
