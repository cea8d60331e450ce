-- Redis as an optional broker, per queue (README, "Redis broker").
-- PostgreSQL stays the system of record: a job of a Redis queue is inserted,
-- claimed, completed and kept in history here exactly as any other; Redis
-- only carries the "this job is ready" message from the relay to a worker.

-- Which broker carries the queue's jobs to workers. 'postgres' (default):
-- workers claim from jobs directly. 'redis': the relay pushes ready jobs to a
-- Redis stream and workers claim the ids they read from it.
ALTER TABLE @schema@.queues ADD COLUMN broker text NOT NULL DEFAULT 'postgres'
  CONSTRAINT queues_broker_check CHECK (broker IN ('postgres', 'redis'));

-- When the relay last pushed the job to Redis (NULL: never). A pending job is
-- due for a push when it was never pushed, when it went back to pending after
-- the push (every way back to pending sets run_at to now() or later, so
-- dispatched_at < run_at), or when the push is older than the relay's
-- redispatch_after (the message was lost with Redis' data). Nullable with no
-- default: adding it rewrites nothing.
ALTER TABLE @schema@.jobs ADD COLUMN dispatched_at timestamptz;
