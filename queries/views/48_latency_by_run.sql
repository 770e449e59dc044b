-- latency_by_run: request latency of each run measured from its step ranges
-- (tk:step=N phase=prefill|decode, or any range a label_rules row gives a step), and the
-- share of each that is exposed communication.
--   A step spans from the earliest start to the latest end of its ranges over all ranks.
--   ttft_ns  = last prefill step end - first step start
--   tpot_ns  = (last decode step end - last prefill step end) / decode steps
--   e2e_ns   = last step end - first step start
--   Exposed communication per rank and phase comes from overlap_by_phase; a run's share
--   uses its most exposed rank (the rank that bounds the latency):
--   ttft_exposed_comm_pct = 100 * max over ranks of prefill exposed_comm_ns / ttft_ns
--   tpot_exposed_comm_pct = 100 * max over ranks of decode exposed_comm_ns
--                           / (decode_steps * tpot_ns)
--   e2e_exposed_comm_pct  = 100 * max over ranks of (prefill + decode) exposed_comm_ns
--                           / e2e_ns
-- Depends on: annotation_ranges, _label_names, traces, overlap_by_phase, runs.
--   run_id
--   steps, prefill_steps, decode_steps   number of steps seen
--   first_ts_ns, last_end_ns             span of the steps, ns on the run timeline
--   ttft_ns, tpot_ns, e2e_ns             as above, ns (NULL where the steps are missing)
--   ttft_exposed_comm_ns, decode_exposed_comm_ns, e2e_exposed_comm_ns   ns, the max rank's
--   ttft_exposed_comm_pct, tpot_exposed_comm_pct, e2e_exposed_comm_pct  percent
--   manifest_ttft_ms, manifest_tpot_ms, manifest_e2e_ms   what the collector measured for
--       the first request (runs.manifest latency), ms, for comparison
CREATE OR REPLACE VIEW latency_by_run AS
WITH step_ranges AS (
    SELECT t.run_id, a.ts_ns, a.end_ns,
           TRY_CAST(s.value AS BIGINT) AS step, p.value AS phase
    FROM annotation_ranges a
    JOIN traces t USING (trace_id)
    JOIN _label_names s ON s.name = a.name AND s.key = 'step'
    LEFT JOIN _label_names p ON p.name = a.name AND p.key = 'phase'
), steps AS (
    SELECT run_id, step, max(phase) AS phase, min(ts_ns) AS ts_ns, max(end_ns) AS end_ns
    FROM step_ranges GROUP BY run_id, step
), spans AS (
    SELECT run_id, count(*) AS steps,
           count(*) FILTER (WHERE phase = 'prefill') AS prefill_steps,
           count(*) FILTER (WHERE phase = 'decode') AS decode_steps,
           min(ts_ns) AS first_ts_ns, max(end_ns) AS last_end_ns,
           max(end_ns) FILTER (WHERE phase = 'prefill') AS prefill_end_ns,
           max(end_ns) FILTER (WHERE phase = 'decode') AS decode_end_ns
    FROM steps GROUP BY run_id
), exposed AS (
    SELECT run_id, rank,
           sum(exposed_comm_ns) FILTER (WHERE phase = 'prefill') AS prefill_ns,
           sum(exposed_comm_ns) FILTER (WHERE phase = 'decode') AS decode_ns,
           sum(exposed_comm_ns) FILTER (WHERE phase IN ('prefill', 'decode')) AS both_ns
    FROM overlap_by_phase GROUP BY run_id, rank
), worst AS (
    SELECT run_id, max(prefill_ns) AS prefill_ns, max(decode_ns) AS decode_ns,
           max(both_ns) AS both_ns
    FROM exposed GROUP BY run_id
), latency AS (
    SELECT s.*,
           s.prefill_end_ns - s.first_ts_ns AS ttft_ns,
           (s.decode_end_ns - s.prefill_end_ns) // nullif(s.decode_steps, 0) AS tpot_ns,
           s.last_end_ns - s.first_ts_ns AS e2e_ns
    FROM spans s
)
SELECT l.run_id, l.steps, l.prefill_steps, l.decode_steps, l.first_ts_ns, l.last_end_ns,
       l.ttft_ns, l.tpot_ns, l.e2e_ns,
       w.prefill_ns::BIGINT AS ttft_exposed_comm_ns,
       w.decode_ns::BIGINT AS decode_exposed_comm_ns,
       w.both_ns::BIGINT AS e2e_exposed_comm_ns,
       round(100.0 * w.prefill_ns / nullif(l.ttft_ns, 0), 4) AS ttft_exposed_comm_pct,
       round(100.0 * w.decode_ns / nullif(l.decode_end_ns - l.prefill_end_ns, 0), 4)
           AS tpot_exposed_comm_pct,
       round(100.0 * w.both_ns / nullif(l.e2e_ns, 0), 4) AS e2e_exposed_comm_pct,
       coalesce(TRY_CAST(r.manifest->'$.latency[0].ttft_ms' AS DOUBLE),
                TRY_CAST(r.manifest->'$.latency.ttft_ms' AS DOUBLE)) AS manifest_ttft_ms,
       coalesce(TRY_CAST(r.manifest->'$.latency[0].tpot_ms' AS DOUBLE),
                TRY_CAST(r.manifest->'$.latency.tpot_ms' AS DOUBLE)) AS manifest_tpot_ms,
       coalesce(TRY_CAST(r.manifest->'$.latency[0].e2e_ms' AS DOUBLE),
                TRY_CAST(r.manifest->'$.latency.e2e_ms' AS DOUBLE)) AS manifest_e2e_ms
FROM latency l
LEFT JOIN worst w USING (run_id)
LEFT JOIN runs r USING (run_id)
ORDER BY l.run_id;
