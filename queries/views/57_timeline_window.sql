-- timeline_window(run): the window a timeline of a run opens on: the first decode step
-- (step 1; else the lowest step) from its first range's start to its last range's end over
-- all ranks (step_spans), or the whole run (rank_spans: first event start to last event
-- end) when the run has no step ranges. One row; both NULL when the run has no events.
-- Depends on: step_spans, rank_spans.
--   start_ns, end_ns   the window, ns on the run timeline
CREATE OR REPLACE MACRO timeline_window(run) AS TABLE
SELECT coalesce(w.lo, r.lo) AS start_ns, coalesce(w.hi, r.hi) AS end_ns
FROM (SELECT min(first_ns) AS lo, max(last_ns) AS hi FROM rank_spans WHERE run_id = run) r
LEFT JOIN (SELECT first_ts_ns AS lo, end_ns AS hi FROM step_spans WHERE run_id = run
           ORDER BY (step = 1) DESC, step LIMIT 1) w ON true;
