-- Worker processes and the maintenance a worker runs.

-- name: register_worker
-- $1 id, $2 host, $3 pid, $4 queues (jsonb {"name": concurrency}), $5 tasks
-- (jsonb array), $6 version, $7 lease in seconds (how long it stays live
-- without a heartbeat: migration 0025).
INSERT INTO @schema@.workers (id, host, pid, queues, tasks, version, lease_seconds)
VALUES ($1, $2, $3::integer, $4::jsonb, $5::jsonb, $6, $7::float8)
-- A row left by an earlier process under the same id describes that
-- process: this one's host, pid, queues, tasks and version replace it, and
-- its stop request (meant for that process) is dropped.
ON CONFLICT (id) DO UPDATE
SET host = excluded.host, pid = excluded.pid, queues = excluded.queues, tasks = excluded.tasks,
    version = excluded.version, lease_seconds = excluded.lease_seconds, started_at = now(),
    heartbeat_at = now(), stop_requested = false;

-- name: worker_heartbeat
-- Returns a row while the worker's row exists; none means it was pruned (the
-- worker was thought dead) and must register again. stop_requested is set
-- by `pgjobs workers stop`: the worker drains and exits.
UPDATE @schema@.workers SET heartbeat_at = now() WHERE id = $1 RETURNING id, stop_requested;

-- name: deregister_worker
WITH idle AS (DELETE FROM @schema@.idle_workers WHERE worker_id = $1)
DELETE FROM @schema@.workers WHERE id = $1;

-- name: prune_workers
-- Rows of workers whose heartbeat stopped $1 seconds ago or more, and the
-- queues they said they were idle on (so enqueues stop notifying for them).
WITH pruned AS (
  DELETE FROM @schema@.workers
  WHERE heartbeat_at < now() - make_interval(secs => $1::float8)
  RETURNING id
), idle AS (
  DELETE FROM @schema@.idle_workers i USING pruned p WHERE i.worker_id = p.id
)
SELECT id FROM pruned;

-- name: mark_idle
-- Worker $2 waits for jobs of queue $1: enqueues into it NOTIFY from now on
-- (see migration 0007). Written only when the worker goes idle.
INSERT INTO @schema@.idle_workers (queue, worker_id) VALUES ($1, $2)
ON CONFLICT (queue, worker_id) DO NOTHING;

-- name: mark_busy
-- Worker $2 is busy on queue $1 (its last claim was full): it will claim
-- again without being told, so enqueues into $1 need not NOTIFY for it.
DELETE FROM @schema@.idle_workers WHERE queue = $1 AND worker_id = $2;

-- name: ensure_partitions
-- Creates history partitions $1 days ahead. The transaction-level advisory lock
-- keeps concurrent callers from racing on the same DDL; a caller that does not
-- get it skips (returns NULL): someone else is doing the work. The DDL needs
-- an exclusive lock on job_history; lock_timeout makes it give up (and try
-- again later) rather than queue every completion behind a long reader.
SELECT CASE WHEN pg_try_advisory_xact_lock(hashtext('@schema@.ensure_partitions'))
                 AND set_config('lock_timeout', '500ms', true) IS NOT NULL
            THEN @schema@.ensure_history_partitions($1::integer) END;
