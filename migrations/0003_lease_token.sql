-- 0003_lease_token: a token per claim. Everything a worker writes about a
-- running job (lease renewals, progress, outcomes, give-backs) is fenced on
-- the claim it holds, not on the attempt number: attempt numbers repeat
-- (a snooze or a give-back does not use an attempt), claim tokens do not.
ALTER TABLE @schema@.jobs ADD COLUMN lease_token bigint;
