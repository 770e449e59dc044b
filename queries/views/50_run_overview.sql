-- run_overview: one row per run with its layout and what was imported into it (the
-- runs list of `tracekit tui` and the run picker).
-- Depends on: runs, traces.
--   run_id
--   world_size, tp, pp   the run's layout (NULL where unknown)
--   traces               imported sources of the run
--   ranks                distinct ranks among them
--   events               events of the run
--   formats              the sources' formats, sorted ('kineto', 'nsys')
CREATE OR REPLACE VIEW run_overview AS
SELECT r.run_id, r.world_size, r.tp, r.pp,
       count(t.trace_id) AS traces, count(DISTINCT t.rank) AS ranks,
       sum(t.event_count) AS events, list_sort(list_distinct(list(t.format))) AS formats
FROM runs r LEFT JOIN traces t USING (run_id)
GROUP BY ALL ORDER BY r.run_id;
