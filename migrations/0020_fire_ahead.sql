-- 0020_fire_ahead: a tick's job may be made before the tick, to wait for it.
--
-- A scheduler makes the job of a schedule's next tick up to
-- scheduler.fire_ahead (default 30 s) before the tick, with run_at at the
-- tick, so that many schedules due at the same second are all waiting when
-- it comes instead of being inserted one batch after another from then on.
-- Only schedules with overlap 'allow', and at most one tick ahead per
-- schedule: a tick is made ahead only once the schedule's last tick is due.
--
-- Such a tick is already the schedule's last run (last_run_at in the future,
-- last_job_id its job, counted in run_count). prior_run_at and prior_job_id
-- keep what they were before, so that views can show the schedule as it
-- stands at now(), and an edit can take the tick back.

ALTER TABLE @schema@.schedules
  ADD COLUMN prior_run_at timestamptz,  -- last_run_at before the last tick made
  ADD COLUMN prior_job_id bigint;       -- last_job_id before the last tick made

-- As in 0004, plus: an edit of the timing, the job template or the policies
-- takes back a tick made ahead that has not come yet (by the clock, not the
-- edit's transaction start) and whose job is still pending: deletes that job
-- (last_job_id), restores last_run_at, last_job_id and run_count. A change
-- of timing then plans the schedule again from now; a change of template or
-- policy puts the tick back as the next one and wakes the schedulers, so it
-- is made again from the edited row, late rather than lost if its time comes
-- meanwhile. Editing only the name or the description keeps it.
CREATE OR REPLACE FUNCTION @schema@.schedules_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  timing boolean;
  template boolean;
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.next_run_at := NULL;
    NEW.error := NULL;
    RETURN NEW;
  END IF;
  timing := (NEW.kind, NEW.cron, NEW.every, NEW.at, NEW.time_zone, NEW.enabled, NEW.start_at,
             NEW.end_at)
            IS DISTINCT FROM
            (OLD.kind, OLD.cron, OLD.every, OLD.at, OLD.time_zone, OLD.enabled, OLD.start_at,
             OLD.end_at);
  template := (NEW.task, NEW.queue, NEW.args, NEW.priority, NEW.timeout, NEW.max_attempts)
              IS DISTINCT FROM
              (OLD.task, OLD.queue, OLD.args, OLD.priority, OLD.timeout, OLD.max_attempts);
  IF timing THEN
    NEW.next_run_at := NULL;
    NEW.error := NULL;
    NEW.done := false;
    NEW.updated_at := now();
  ELSIF template OR (NEW.name, NEW.misfire, NEW.catch_up_limit, NEW.overlap, NEW.description)
                    IS DISTINCT FROM
                    (OLD.name, OLD.misfire, OLD.catch_up_limit, OLD.overlap, OLD.description)
  THEN
    NEW.updated_at := now();
    IF template THEN
      NEW.error := NULL;
    END IF;
  END IF;
  IF (timing OR template OR (NEW.misfire, NEW.catch_up_limit, NEW.overlap)
                            IS DISTINCT FROM (OLD.misfire, OLD.catch_up_limit, OLD.overlap))
     AND OLD.last_run_at > clock_timestamp()
     AND NEW.last_run_at IS NOT DISTINCT FROM OLD.last_run_at
  THEN
    DELETE FROM @schema@.jobs
    WHERE id = OLD.last_job_id AND schedule_id = OLD.id AND state = 'pending'
      AND scheduled_for > clock_timestamp();
    IF FOUND THEN
      NEW.last_run_at := OLD.prior_run_at;
      NEW.last_job_id := OLD.prior_job_id;
      NEW.run_count := greatest(OLD.run_count - 1, 0);
      NEW.done := false;
      IF NOT timing THEN
        NEW.next_run_at := OLD.last_run_at;
        PERFORM pg_notify('@schema@_schedules', '');
      END IF;
    END IF;
  END IF;
  IF OLD.error IS NOT NULL AND NEW.error IS NULL THEN
    NEW.next_run_at := NULL;
  END IF;
  RETURN NEW;
END;
$$;

-- A schedule removed takes its tick made ahead with it (the job of a tick
-- still to come, not started); jobs of ticks that have come stay and run.
CREATE FUNCTION @schema@.schedules_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.last_run_at > clock_timestamp() THEN
    DELETE FROM @schema@.jobs
    WHERE id = OLD.last_job_id AND schedule_id = OLD.id AND state = 'pending'
      AND scheduled_for > clock_timestamp();
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER schedules_removed AFTER DELETE ON @schema@.schedules
  FOR EACH ROW EXECUTE FUNCTION @schema@.schedules_removed();

-- The function above did nothing for the scheduler's own updates (next run,
-- last run, counts), yet ran for each of them: a PL/pgSQL call per tick.
-- The update trigger now runs only when a field it looks at changes; its
-- WHEN is evaluated without calling any function.
DROP TRIGGER schedules_changed ON @schema@.schedules;
CREATE TRIGGER schedules_created BEFORE INSERT ON @schema@.schedules
  FOR EACH ROW EXECUTE FUNCTION @schema@.schedules_changed();
CREATE TRIGGER schedules_changed BEFORE UPDATE ON @schema@.schedules
  FOR EACH ROW
  WHEN ((NEW.kind, NEW.cron, NEW.every, NEW.at, NEW.time_zone, NEW.enabled, NEW.start_at,
         NEW.end_at, NEW.task, NEW.queue, NEW.args, NEW.priority, NEW.timeout, NEW.max_attempts,
         NEW.name, NEW.misfire, NEW.catch_up_limit, NEW.overlap, NEW.description)
        IS DISTINCT FROM
        (OLD.kind, OLD.cron, OLD.every, OLD.at, OLD.time_zone, OLD.enabled, OLD.start_at,
         OLD.end_at, OLD.task, OLD.queue, OLD.args, OLD.priority, OLD.timeout, OLD.max_attempts,
         OLD.name, OLD.misfire, OLD.catch_up_limit, OLD.overlap, OLD.description)
        OR (OLD.error IS NOT NULL AND NEW.error IS NULL))
  EXECUTE FUNCTION @schema@.schedules_changed();
