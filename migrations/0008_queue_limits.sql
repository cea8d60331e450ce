-- 0008_queue_limits: a global concurrency limit and a global rate limit per
-- queue, across every worker and host, enforced by the claim itself.
--
-- A queue without limits is claimed exactly as before: one statement, no
-- lock on anything but the jobs it takes (the claim's one-time check of the
-- queues row now also says "no limit"). A queue with a limit is claimed in a
-- short transaction that first locks its queues row (claim_allowance), so
-- claims of that queue, and only of that queue, take turns; the lock is
-- held for the few milliseconds of the claim, never while jobs run.
--
-- What the limits count lives in the row itself, so no other table or index
-- is maintained for queues without limits:
--   held_ids/held_tokens  the claims of running jobs of the queue (job id and
--     claim token, pairwise). A claim is live while the job still has that
--     token (constraint jobs_lease_token_only_while_running: only while it
--     runs), so a job that finished, failed, was given back, rescued or
--     cancelled frees its place without anyone having to say so: the next
--     claim_allowance drops it. Counting costs one primary-key probe per
--     held claim, at most `concurrency` of them.
--   rate_claims  when each of the last `rate_limit` jobs was claimed (sorted);
--     a job may be claimed only if fewer than rate_limit were claimed in the
--     `rate_period` before now: at most rate_limit claims in any window of
--     that length (a sliding window, not calendar seconds).
--
-- Every new column is nullable or has a constant default: a catalog change.
ALTER TABLE @schema@.queues
  ADD COLUMN concurrency integer
    CONSTRAINT queue_concurrency_1_to_10000 CHECK (concurrency BETWEEN 1 AND 10000),
  ADD COLUMN rate_limit integer
    CONSTRAINT queue_rate_limit_1_to_10000 CHECK (rate_limit BETWEEN 1 AND 10000),
  ADD COLUMN rate_period interval
    CONSTRAINT queue_rate_period_1s_to_1d CHECK (rate_period BETWEEN interval '1 second'
                                                                 AND interval '1 day'),
  ADD COLUMN held_ids bigint[] NOT NULL DEFAULT '{}',
  ADD COLUMN held_tokens bigint[] NOT NULL DEFAULT '{}',
  ADD COLUMN rate_claims timestamptz[] NOT NULL DEFAULT '{}',
  ADD CONSTRAINT queue_rate_limit_needs_period CHECK ((rate_limit IS NULL) = (rate_period IS NULL));

-- How many jobs of queue `queue_name` a claim may take now, at most `want`;
-- to be called in the claim's transaction, before the claim (the row lock it
-- takes is what makes the limits exact: every claim of the queue that
-- committed before this one is seen by the statements after the lock,
-- because each statement of a function takes a fresh snapshot). Returns
-- `allowed` and, when the rate limit is what holds claims back, `retry_in`:
-- the seconds until the oldest claim of the window leaves it. `limited` is
-- false when the queue has no limit (any more): the caller can go back to
-- the plain claim. A paused queue allows nothing.
CREATE FUNCTION @schema@.claim_allowance(queue_name text, want integer,
                                         OUT allowed integer, OUT retry_in float8,
                                         OUT limited boolean)
LANGUAGE plpgsql AS $$
DECLARE
  q @schema@.queues%ROWTYPE;
  live_ids bigint[];
  live_tokens bigint[];
  at timestamptz;
  in_window integer;
BEGIN
  allowed := 0;
  SELECT * INTO q FROM @schema@.queues WHERE name = queue_name FOR UPDATE;
  limited := FOUND AND (q.concurrency IS NOT NULL OR q.rate_limit IS NOT NULL);
  IF NOT limited THEN
    allowed := CASE WHEN FOUND AND q.paused THEN 0 ELSE want END;
    RETURN;
  END IF;
  IF q.paused THEN
    RETURN;
  END IF;
  allowed := want;
  IF q.concurrency IS NOT NULL THEN
    -- The held claims still live, each found by one primary-key probe
    -- (LATERAL with LIMIT keeps it a probe whatever the statistics say).
    SELECT coalesce(array_agg(h.id ORDER BY h.id), '{}'),
           coalesce(array_agg(h.token ORDER BY h.id), '{}')
    INTO live_ids, live_tokens
    FROM unnest(q.held_ids, q.held_tokens) AS h(id, token)
    CROSS JOIN LATERAL (
      SELECT 1 FROM @schema@.jobs j WHERE j.id = h.id AND j.lease_token = h.token LIMIT 1
    ) alive;
    IF cardinality(live_ids) <> cardinality(q.held_ids) THEN
      UPDATE @schema@.queues SET held_ids = live_ids, held_tokens = live_tokens
      WHERE name = queue_name;
    END IF;
    allowed := least(allowed, q.concurrency - cardinality(live_ids));
  END IF;
  IF q.rate_limit IS NOT NULL THEN
    at := clock_timestamp();
    SELECT count(*), min(s) INTO in_window, at
    FROM unnest(q.rate_claims) AS s WHERE s > at - q.rate_period;
    IF in_window >= q.rate_limit THEN
      retry_in := greatest(0, extract(epoch FROM at + q.rate_period - clock_timestamp()));
    END IF;
    allowed := least(allowed, q.rate_limit - in_window);
  END IF;
  allowed := greatest(allowed, 0);
END;
$$;

-- Records the jobs a limited claim took (ids, one claim token): they hold a
-- place of the concurrency limit while they run, and count against the rate
-- limit for rate_period. Called in the claim's transaction, after the claim.
CREATE FUNCTION @schema@.record_claims(queue_name text, ids bigint[], token bigint)
RETURNS void
LANGUAGE sql AS $$
  UPDATE @schema@.queues q
  SET held_ids = CASE WHEN q.concurrency IS NULL THEN '{}' ELSE q.held_ids || ids END,
      held_tokens = CASE WHEN q.concurrency IS NULL THEN '{}'
                         ELSE q.held_tokens || array_fill(token, ARRAY[cardinality(ids)]) END,
      rate_claims = CASE WHEN q.rate_limit IS NULL THEN '{}'
                         ELSE ARRAY(SELECT s FROM unnest(q.rate_claims) AS s
                                    WHERE s > clock_timestamp() - q.rate_period ORDER BY s)
                              || array_fill(clock_timestamp(), ARRAY[cardinality(ids)]) END
  WHERE q.name = queue_name AND cardinality(ids) > 0;
$$;

-- Sets the limits of a queue, creating its row if needed: the concurrency
-- limit when set_concurrency (NULL: none), the rate limit when set_rate
-- (NULL: none); the other one is kept. Jobs of the queue running at that
-- moment take their places under a concurrency limit, so it holds from the
-- first claim after it. Wakes the queue's workers so that they look at once.
CREATE FUNCTION @schema@.set_queue_limits(queue_name text,
                                          set_concurrency boolean, concurrency integer,
                                          set_rate boolean, rate_limit integer,
                                          rate_period interval)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO @schema@.queues AS q (name) VALUES (queue_name) ON CONFLICT (name) DO NOTHING;
  UPDATE @schema@.queues q
  SET concurrency = CASE WHEN set_concurrency THEN set_queue_limits.concurrency
                         ELSE q.concurrency END,
      rate_limit = CASE WHEN set_rate THEN set_queue_limits.rate_limit ELSE q.rate_limit END,
      rate_period = CASE WHEN set_rate THEN set_queue_limits.rate_period ELSE q.rate_period END,
      updated_at = now()
  WHERE q.name = queue_name;
  UPDATE @schema@.queues q
  SET (held_ids, held_tokens) = (
        SELECT coalesce(array_agg(j.id ORDER BY j.id), '{}'),
               coalesce(array_agg(j.lease_token ORDER BY j.id), '{}')
        FROM @schema@.jobs j
        WHERE q.concurrency IS NOT NULL AND j.queue = queue_name AND j.state = 'running'
          AND j.lease_token IS NOT NULL),
      rate_claims = CASE WHEN q.rate_limit IS NULL THEN '{}' ELSE q.rate_claims END
  WHERE q.name = queue_name;
  PERFORM pg_notify('@schema@_jobs', queue_name);
END;
$$;
