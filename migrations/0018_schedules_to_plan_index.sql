-- 0018_schedules_to_plan_index: finding the schedules to plan reads only
-- them, whatever plan PostgreSQL keeps.
--
-- schedules_to_plan (sql/schedules.sql) asks for the schedules whose next
-- tick is not computed yet, in id order, and the scheduler asks at every
-- turn of its loop, also while it fires. Right after 100,000 schedules were
-- created, every row matched, so the plan chosen was a walk of the primary
-- key in id order; the scheduler's prepared statement kept that plan, and
-- once the schedules were planned each call walked all 100,000 rows to find
-- none: 21 ms a call, 200 calls while 100,000 ticks fired, more time than
-- inserting the ticks. This index holds exactly the rows the statement
-- wants, in the order it wants them, so any plan that uses it reads only
-- those rows, and no plan without it is cheaper.
CREATE INDEX schedules_to_plan_idx ON @schema@.schedules (id)
  WHERE enabled AND NOT done AND error IS NULL AND next_run_at IS NULL;
