-- 0015_history_finish_time_indexes: the dashboard's, `pgjobs stats`' and
-- /metrics' windows ("the last hour", "since the last scrape") read only the
-- rows of that window instead of whole finish-time partitions.
--
-- A BRIN index on finished_at: rows reach job_history in about the order of
-- finished_at (a completion's transaction start), so each block range of 32
-- pages covers a short span of time and a window reads the ranges that
-- overlap it. A BRIN index costs a completion almost nothing: a new row
-- lands in a range at the end of the table that is not summarized yet
-- (vacuum summarizes it later), so nothing is written to the index; a
-- b-tree on finished_at would add one index entry per finished job.
CREATE INDEX job_history_finished_at_brin ON @schema@.job_history
  USING brin (finished_at) WITH (pages_per_range = 32);

-- The failures of the last 24 hours per queue (queues list, the overview):
-- failures are few, so a partial b-tree costs only failed jobs an entry.
CREATE INDEX job_history_failed_at_idx ON @schema@.job_history (queue, finished_at)
  WHERE state = 'failed';
