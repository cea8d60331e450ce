-- 0017_cheap_name_checks: the same name rules, checked about ten times
-- faster.
--
-- A queue name is 1-128 letters, digits, '_', '.', ':' or '-', starting with
-- a letter or digit; a schedule name the same with up to 200. The checks
-- were one regular expression with a bounded repetition,
-- '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$', which PostgreSQL's regex engine
-- runs slowly: 2.5 µs for a 6-character name and 8.6 µs for a 26-character
-- one. A CHECK constraint is evaluated on every INSERT and on every UPDATE of
-- the row, whatever the UPDATE changes, so jobs paid it at the enqueue, at
-- the claim and at every retry and lease renewal, and schedules at every
-- tick: about a fifth of PostgreSQL's CPU time in a bulk enqueue. The length
-- is now compared first and the pattern has no bound (0.2-0.3 µs): the
-- accepted names are exactly the same, since every allowed character is one
-- byte and one character. The constraint names do not change, so errors
-- read as before.

ALTER TABLE @schema@.jobs
  DROP CONSTRAINT jobs_queue_name_format,
  ADD CONSTRAINT jobs_queue_name_format
    CHECK (length(queue) <= 128 AND queue ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$');

ALTER TABLE @schema@.queues
  DROP CONSTRAINT queue_name_format,
  ADD CONSTRAINT queue_name_format
    CHECK (length(name) <= 128 AND name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$');

ALTER TABLE @schema@.schedules
  DROP CONSTRAINT schedules_name_format,
  ADD CONSTRAINT schedules_name_format
    CHECK (length(name) <= 200 AND name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$'),
  DROP CONSTRAINT schedules_queue_name_format,
  ADD CONSTRAINT schedules_queue_name_format
    CHECK (length(queue) <= 128 AND queue ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$');
