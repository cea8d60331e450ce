-- The `pgjobs schedules` admin commands (src/store/schedule_admin.cc).
--
-- Instants cross the wire as whole microseconds since the Unix epoch (read)
-- or ISO 8601 text (written), intervals as whole milliseconds, so a value
-- read and written back is exactly what it was: `export` then `apply`
-- changes nothing. Every parameter carries a cast, so each statement can be
-- prepared without knowing its values.
--
-- None of these statements sets next_run_at: the schedules_changed trigger
-- clears it whenever a field that decides the ticks changes, and the
-- scheduler computes it again within a second.

-- name: schedule_admin_select
-- Schedules with what the scheduler keeps about them, by name. $1: one name,
-- or NULL for all. last_outcome: the state of the last job a tick made, looked
-- up in jobs (pending, running) and then job_history (succeeded, failed,
-- cancelled); 'unknown' once retention has dropped it, NULL before any tick.
-- ahead_job_id: the job of the next tick, made ahead of it, when there is one.
SELECT s.id, s.name, s.kind, s.cron,
       (extract(epoch FROM s.every) * 1000)::bigint AS every_ms,
       (extract(epoch FROM s.at) * 1000000)::bigint AS at_us,
       s.time_zone, s.task, s.queue, s.args::text, s.priority,
       (extract(epoch FROM s.timeout) * 1000)::bigint AS timeout_ms,
       s.max_attempts, s.enabled, s.misfire, s.catch_up_limit, s.overlap,
       (extract(epoch FROM s.start_at) * 1000000)::bigint AS start_us,
       (extract(epoch FROM s.end_at) * 1000000)::bigint AS end_us,
       s.description,
       (extract(epoch FROM v.next_run_at) * 1000000)::bigint AS next_run_us,
       (extract(epoch FROM v.last_run_at) * 1000000)::bigint AS last_run_us,
       v.last_job_id, v.run_count, s.skipped_count, s.done AND NOT v.ahead, s.error,
       (extract(epoch FROM s.created_at) * 1000000)::bigint AS created_us,
       (extract(epoch FROM s.updated_at) * 1000000)::bigint AS updated_us,
       CASE WHEN v.last_job_id IS NOT NULL THEN
         coalesce((SELECT j.state FROM @schema@.jobs j WHERE j.id = v.last_job_id),
                  (SELECT h.state FROM @schema@.job_history h WHERE h.id = v.last_job_id LIMIT 1),
                  'unknown')
       END AS last_outcome,
       CASE WHEN v.ahead THEN s.last_job_id END AS ahead_job_id
FROM @schema@.schedules s
-- The schedule as it stands at now(): a tick made ahead (last_run_at still
-- to come; migration 0020) is shown as the next run, not as the last one.
CROSS JOIN LATERAL (
  SELECT coalesce(s.last_run_at > now(), false) AS ahead) a
CROSS JOIN LATERAL (
  SELECT a.ahead,
         CASE WHEN a.ahead THEN s.last_run_at ELSE s.next_run_at END AS next_run_at,
         CASE WHEN a.ahead THEN s.prior_run_at ELSE s.last_run_at END AS last_run_at,
         CASE WHEN a.ahead THEN s.prior_job_id ELSE s.last_job_id END AS last_job_id,
         s.run_count - a.ahead::int AS run_count) v
WHERE $1::text IS NULL OR s.name = $1::text
ORDER BY s.name;

-- name: schedule_admin_lock
-- Locks schedules before they are read and rewritten (update, apply), so that
-- a concurrent edit or a scheduler's tick waits instead of being overwritten.
-- $1: one name, or NULL for all. Returns the names locked.
SELECT name FROM @schema@.schedules
WHERE $1::text IS NULL OR name = $1::text
ORDER BY id
FOR UPDATE;

-- name: schedule_admin_names
-- Every name, to suggest the nearest one to a mistyped name.
SELECT name FROM @schema@.schedules ORDER BY name;

-- name: schedule_admin_now
-- The database's clock, which is the one the scheduler uses.
SELECT (extract(epoch FROM now()) * 1000000)::bigint;

-- name: schedule_admin_insert
-- A new schedule. A taken name inserts nothing (no row returned) rather than
-- raising, so that it does not abort the transaction of an apply and the
-- caller can say "use update". $4 every and $11 timeout in milliseconds; $5
-- at, $17 start and $18 end as ISO 8601 text.
INSERT INTO @schema@.schedules (name, kind, cron, every, at, time_zone, task, queue, args, priority,
                                timeout, max_attempts, enabled, misfire, catch_up_limit, overlap,
                                start_at, end_at, description)
VALUES ($1::text, $2::text, $3::text, $4::bigint * interval '1 millisecond', $5::timestamptz,
        $6::text, $7::text, $8::text, $9::jsonb, $10::smallint,
        $11::bigint * interval '1 millisecond', $12::integer, $13::boolean, $14::text,
        $15::integer, $16::text, $17::timestamptz, $18::timestamptz, $19::text)
ON CONFLICT (name) DO NOTHING
RETURNING id;

-- name: schedule_admin_update
-- Rewrites every settable field of schedule $20 (an id, locked by
-- schedule_admin_lock), with the parameters of schedule_admin_insert. Fields
-- of the other kinds are NULL, so switching kind clears them.
UPDATE @schema@.schedules
SET name = $1::text, kind = $2::text, cron = $3::text, every = $4::bigint * interval '1 millisecond',
    at = $5::timestamptz, time_zone = $6::text, task = $7::text, queue = $8::text,
    args = $9::jsonb, priority = $10::smallint, timeout = $11::bigint * interval '1 millisecond',
    max_attempts = $12::integer, enabled = $13::boolean, misfire = $14::text,
    catch_up_limit = $15::integer, overlap = $16::text, start_at = $17::timestamptz,
    end_at = $18::timestamptz, description = $19::text
WHERE id = $20::bigint;

-- name: schedule_admin_set_enabled
-- Enables or disables schedule $1 (NULL: every schedule). Only rows whose
-- value changes are touched, so that the names returned are those changed
-- and an already enabled schedule keeps its next_run_at. Enabling also
-- clears an error (the schedules_changed trigger then plans it again; an
-- expression that still cannot fire gets its error back).
UPDATE @schema@.schedules
SET enabled = $2::boolean, error = CASE WHEN $2::boolean THEN NULL ELSE error END
WHERE ($1::text IS NULL OR name = $1::text)
  AND (enabled IS DISTINCT FROM $2::boolean OR ($2::boolean AND error IS NOT NULL))
RETURNING name;

-- name: schedule_admin_delete
-- Jobs already made by the schedule stay: they carry its id only as a record.
DELETE FROM @schema@.schedules WHERE name = $1::text RETURNING id;

-- name: schedule_admin_run_now
-- One job from schedule $1's template, to run now. scheduled_for stays NULL:
-- jobs_schedule_tick_idx is unique on (schedule_id, scheduled_for), and NULLs
-- are distinct in a unique index, so this job never collides with a tick or
-- with another run-now. The schedule's row is not touched: next_run_at,
-- last_run_at and run_count stay as they are. The job does count as a live
-- job of the schedule for its overlap policy.
INSERT INTO @schema@.jobs (task, args, queue, priority, max_attempts, timeout, schedule_id,
                           scheduled_for)
SELECT task, args, queue, priority, max_attempts, timeout, id, NULL
FROM @schema@.schedules WHERE name = $1::text
RETURNING id;

-- name: schedule_admin_carry_over
-- `schedules import-celery-beat --apply`: beat's last run and run count, kept
-- on a schedule that has made no job of its own yet, or only the job of a
-- tick made ahead, still to come (then beat's last run is the one before
-- it). $1 name, $2 last run (ISO 8601) or NULL, $3 run count. Again on every
-- import until pgjobs makes a job: beat's figures replace the last import's
-- (beat may have run meanwhile; its count includes the earlier runs).
UPDATE @schema@.schedules
SET last_run_at = CASE WHEN last_job_id IS NULL THEN $2::timestamptz ELSE last_run_at END,
    prior_run_at = CASE WHEN last_job_id IS NULL THEN prior_run_at ELSE $2::timestamptz END,
    run_count = $3::bigint + CASE WHEN last_job_id IS NULL THEN 0 ELSE 1 END
WHERE name = $1::text
  AND (last_job_id IS NULL
       OR (last_run_at > now() AND prior_job_id IS NULL));
