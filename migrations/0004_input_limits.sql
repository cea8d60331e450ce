-- 0004_input_limits: the args limit measures the JSON text, and a schedule's
-- job template obeys the rules of the jobs table.
--
-- 1. "args at most 1 MiB" means 1 MiB of JSON text, octet_length(args::text):
--    what a user writes and what a task reads on stdin. 0001 measured
--    pg_column_size, the stored form, which depends on compression and on
--    where the value came from: 1.1 MB of repeated text copied from another
--    table passed (about 13 kB stored), while 600 kB of JSON that compresses
--    badly could fail.
--
--    On jobs this is a trigger, not a CHECK: PostgreSQL evaluates every CHECK
--    again on every UPDATE of a row, and a job's row is updated by its claim,
--    each lease renewal, progress and retries. Measured on PostgreSQL 15, a
--    CHECK of octet_length(args::text) made such an UPDATE 7 times slower for
--    13 kB args (it decompresses and prints them each time). The trigger runs
--    only when args are written (INSERT, or an UPDATE that sets args), and
--    its error carries the constraint name jobs_args_at_most_1mib, class
--    check_violation (23514), as the CHECK did. Jobs already queued are not
--    measured again: they were accepted under the old rule and still run.
--
-- 2. schedules get the jobs table's two checks they lacked (task length, args
--    size), so a template every tick would fail on is refused when it is
--    written. Existing schedules that break them are not changed or deleted:
--    their error column says what is wrong (the scheduler skips schedules in
--    error), and the constraint is left NOT VALID only if such a row exists,
--    so the migration never fails on old data. Edit the template to resume.
--
-- 3. A tick whose job cannot be inserted for some other reason (a trigger of
--    the user's on jobs, a unique index) marks its schedule's error; see
--    sql/schedules.sql. Editing the job template clears the error, and a
--    cleared error makes the scheduler plan the schedule again, as enabling
--    it does.

ALTER TABLE @schema@.jobs DROP CONSTRAINT jobs_args_at_most_1mib;

CREATE FUNCTION @schema@.jobs_args_at_most_1mib() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'new row for relation "%" violates "jobs_args_at_most_1mib": args are % bytes of JSON text, over the 1 MiB limit (1048576 bytes)',
      TG_TABLE_NAME, octet_length(NEW.args::text)
    USING ERRCODE = 'check_violation', CONSTRAINT = 'jobs_args_at_most_1mib',
          SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = 'args',
          HINT = 'Store large data elsewhere (a table, a file) and pass a reference in args.';
END;
$$;

CREATE TRIGGER jobs_args_at_most_1mib BEFORE INSERT OR UPDATE OF args ON @schema@.jobs
  FOR EACH ROW WHEN (octet_length(NEW.args::text) > 1048576)
  EXECUTE FUNCTION @schema@.jobs_args_at_most_1mib();

-- Existing schedules that break the new checks: say so in error. This runs
-- before the constraints exist, which would refuse the UPDATE itself.
UPDATE @schema@.schedules
SET error = 'job template: ' || concat_ws('; ',
      CASE WHEN length(task) > 200 THEN 'task name is longer than 200 characters' END,
      CASE WHEN octet_length(args::text) > 1048576
           THEN 'args are ' || octet_length(args::text) || ' bytes of JSON text, over the 1 MiB limit' END)
    || ' (found by migration 0004); change the template to resume'
WHERE length(task) > 200 OR octet_length(args::text) > 1048576;

ALTER TABLE @schema@.schedules
  ADD CONSTRAINT schedules_task_at_most_200_chars CHECK (length(task) <= 200) NOT VALID,
  ADD CONSTRAINT schedules_args_at_most_1mib CHECK (octet_length(args::text) <= 1048576) NOT VALID;

DO $$
DECLARE
  c text;
BEGIN
  FOREACH c IN ARRAY ARRAY['schedules_task_at_most_200_chars', 'schedules_args_at_most_1mib'] LOOP
    BEGIN
      EXECUTE format('ALTER TABLE %I.schedules VALIDATE CONSTRAINT %I', '@schema@', c);
    EXCEPTION WHEN check_violation THEN
      NULL;  -- an old row breaks it (its error says so): stays NOT VALID
    END;
  END LOOP;
END;
$$;

-- As in 0002, plus: a change of the job template clears the error (the
-- template may be what made ticks fail), and any cleared error, by an edit
-- or by hand, makes the scheduler plan the schedule again from now.
CREATE OR REPLACE FUNCTION @schema@.schedules_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.next_run_at := NULL;
    NEW.error := NULL;
    RETURN NEW;
  END IF;
  IF (NEW.kind, NEW.cron, NEW.every, NEW.at, NEW.time_zone, NEW.enabled, NEW.start_at, NEW.end_at)
     IS DISTINCT FROM
     (OLD.kind, OLD.cron, OLD.every, OLD.at, OLD.time_zone, OLD.enabled, OLD.start_at, OLD.end_at)
  THEN
    NEW.next_run_at := NULL;
    NEW.error := NULL;
    NEW.done := false;
    NEW.updated_at := now();
  ELSIF (NEW.name, NEW.task, NEW.queue, NEW.args, NEW.priority, NEW.timeout, NEW.max_attempts,
         NEW.misfire, NEW.catch_up_limit, NEW.overlap, NEW.description)
        IS DISTINCT FROM
        (OLD.name, OLD.task, OLD.queue, OLD.args, OLD.priority, OLD.timeout, OLD.max_attempts,
         OLD.misfire, OLD.catch_up_limit, OLD.overlap, OLD.description)
  THEN
    NEW.updated_at := now();
    IF (NEW.task, NEW.queue, NEW.args, NEW.priority, NEW.timeout, NEW.max_attempts)
       IS DISTINCT FROM
       (OLD.task, OLD.queue, OLD.args, OLD.priority, OLD.timeout, OLD.max_attempts)
    THEN
      NEW.error := NULL;
    END IF;
  END IF;
  IF OLD.error IS NOT NULL AND NEW.error IS NULL THEN
    NEW.next_run_at := NULL;
  END IF;
  RETURN NEW;
END;
$$;
