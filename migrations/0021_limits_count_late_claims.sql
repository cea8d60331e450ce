-- 0021_limits_count_late_claims: a concurrency limit set while workers claim
-- the queue counts the jobs of claims that were already under way.
--
-- A queue without a limit is claimed by one statement whose check "has the
-- queue a limit?" reads the queues row as it was when the statement began.
-- A claim that began just before set_queue_limits committed therefore takes
-- its jobs as if there were no limit, and commits them after
-- set_queue_limits counted the jobs running (held_ids): those jobs were not
-- counted, and a queue limited to 2 could run 3 (one late job plus 2 newly
-- allowed). Such a claim began before the limit was set and ends within the
-- worker's statement timeout (20 s, src/worker/fetcher.cc), so for a minute
-- after a limit is set (limits_set_at) claim_allowance counts the queue's
-- running jobs themselves, by the running-jobs index, instead of probing
-- held_ids, and stores what it found in held_ids. After that minute the
-- count is the held_ids probes, as before.
ALTER TABLE @schema@.queues ADD COLUMN limits_set_at timestamptz;

CREATE OR REPLACE FUNCTION @schema@.claim_allowance(queue_name text, want integer,
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
    IF q.limits_set_at > clock_timestamp() - interval '1 minute' THEN
      -- Claims that began before the limit may have landed since: count
      -- every running job of the queue (see the head of this migration).
      SELECT coalesce(array_agg(j.id ORDER BY j.id), '{}'),
             coalesce(array_agg(j.lease_token ORDER BY j.id), '{}')
      INTO live_ids, live_tokens
      FROM @schema@.jobs j
      WHERE j.state = 'running' AND j.queue = queue_name AND j.lease_token IS NOT NULL;
    ELSE
      -- The held claims still live, each found by one primary-key probe
      -- (LATERAL with LIMIT keeps it a probe whatever the statistics say).
      SELECT coalesce(array_agg(h.id ORDER BY h.id), '{}'),
             coalesce(array_agg(h.token ORDER BY h.id), '{}')
      INTO live_ids, live_tokens
      FROM unnest(q.held_ids, q.held_tokens) AS h(id, token)
      CROSS JOIN LATERAL (
        SELECT 1 FROM @schema@.jobs j WHERE j.id = h.id AND j.lease_token = h.token LIMIT 1
      ) alive;
    END IF;
    IF live_ids <> q.held_ids OR live_tokens <> q.held_tokens THEN
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

-- As in 0008, and a new concurrency limit stamps limits_set_at.
CREATE OR REPLACE FUNCTION @schema@.set_queue_limits(queue_name text,
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
      limits_set_at = CASE WHEN set_concurrency AND set_queue_limits.concurrency IS NOT NULL
                           THEN clock_timestamp() ELSE q.limits_set_at END,
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
