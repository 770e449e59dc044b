-- rank_spans: first start and last end of each rank's events (the default window of a
-- rank's timeline).
-- Depends on: events, traces.
--   run_id, rank
--   first_ns, last_ns   earliest event start and latest event end, ns on the run timeline
CREATE OR REPLACE VIEW rank_spans AS
SELECT t.run_id, t.rank, min(e.ts_ns) AS first_ns, max(e.ts_ns + e.dur_ns) AS last_ns
FROM events e JOIN traces t USING (trace_id)
GROUP BY ALL;
