-- 0011_history_finished_brin: `pgjobs stats --since 1h` (and the dashboard's
-- charts) read only the recent part of a day's history partition.
--
-- History rows are appended as jobs finish, so finished_at follows the
-- physical order of each partition, and a BRIN index (a few kB: the range of
-- finished_at per 128 pages) lets a window of the last hour skip the blocks
-- of the rest of the day. Its upkeep on insert is nothing: new ranges are
-- summarized by vacuum (autosummarize does it as soon as a range fills).
CREATE INDEX job_history_finished_brin ON @schema@.job_history
  USING brin (finished_at) WITH (autosummarize = on);
