-- 0023_once_moved_after_cancel: a once schedule whose job made ahead was
-- cancelled runs at its new time when its time is moved.
--
-- A tick made ahead (0020) is the schedule's last run from the moment its
-- job is made. If that job is cancelled (or its queue purged) before the
-- tick, the schedule goes on from the tick after it, and an edit cannot take
-- the tick back (there is no pending job to delete). For a once schedule
-- there is no tick after it, and the planner never makes a tick at or before
-- the last run (src/store/schedule_store.cc): moving such a schedule's time
-- earlier left it done without a job. Now moving the time of a once
-- schedule whose tick made ahead has not come and whose job is gone forgets
-- that tick as the last run (run_count still counts the job that was made),
-- so the new time makes a job. Any other edit keeps it: disabling and
-- enabling, or a new time zone, do not bring back a cancelled run.
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
    ELSIF NEW.kind = 'once' AND NEW.at IS DISTINCT FROM OLD.at
          AND NOT EXISTS (SELECT 1 FROM @schema@.jobs j WHERE j.id = OLD.last_job_id) THEN
      -- The once schedule's tick made ahead lost its job before it came
      -- (cancelled, purged) and its time moved: the new time is a new run.
      NEW.last_run_at := OLD.prior_run_at;
      NEW.last_job_id := OLD.prior_job_id;
    END IF;
  END IF;
  IF OLD.error IS NOT NULL AND NEW.error IS NULL THEN
    NEW.next_run_at := NULL;
  END IF;
  RETURN NEW;
END;
$$;
