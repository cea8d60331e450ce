-- The audit log (migration 0011_audit_log): who did what, and when.

-- name: audit_insert
-- One action, written in the action's own transaction. $1 actor (NULL or
-- '': the database role), $2 action ('job.cancel', ...), $3 target, $4
-- details (a JSON object, NULL for none).
INSERT INTO @schema@.audit_log (actor, action, target, details)
VALUES (coalesce(nullif($1, ''), session_user), $2, $3, coalesce($4::jsonb, '{}'));

-- name: audit_list
-- Actions newest first, with optional filters: $1 target (a job id, queue,
-- schedule or worker name; '*' for actions on several), $2 kind (the part
-- of action before the dot: job, queue, schedule, worker) or a whole
-- action, $3 actor, $4 only the last $4 seconds, $5 at most this many, $6
-- only ids below this one (the next page). With a target it is a backward
-- scan of audit_log_target_idx; without, of the primary key; both stopped
-- by the LIMIT.
SELECT coalesce(json_agg(row_to_json(a) ORDER BY a.id DESC), '[]')::text
FROM (
  SELECT id, at, actor, action, target, details
  FROM @schema@.audit_log
  WHERE ($1::text IS NULL OR target = $1)
    AND ($2::text IS NULL OR action = $2 OR split_part(action, '.', 1) = $2)
    AND ($3::text IS NULL OR actor = $3)
    AND ($4::float8 IS NULL OR at >= now() - make_interval(secs => $4::float8))
    AND ($6::bigint IS NULL OR id < $6::bigint)
  ORDER BY id DESC
  LIMIT $5::integer
) a;
