-- 0005_lease_token_fence: a claim token exists only while its job runs.
-- Every statement about a running job (renew, complete, give back, progress)
-- is fenced on (id, claim token, lease owner) and finds its rows by primary
-- key. It does not name the state: that would let the planner pick
-- jobs_lease_idx, whose scan over every running job it believes free once
-- the statistics say that nothing runs. This constraint is what makes the
-- token alone a sufficient fence.
ALTER TABLE @schema@.jobs ADD CONSTRAINT jobs_lease_token_only_while_running
  CHECK (lease_token IS NULL OR state = 'running') NOT VALID;
ALTER TABLE @schema@.jobs VALIDATE CONSTRAINT jobs_lease_token_only_while_running;
