-- latency_by_run: request latency of each run measured from its step ranges
-- (step_spans: timed on the device where they launched device work; a step starts when the last rank of the first pipeline stage enters it and
-- ends when the last rank over all stages leaves it), and the share of each that is exposed
-- communication.
--   ttft_ns  = last prefill step end - first step start
--   tpot_ns  = (last decode step end - last prefill step end) / decode steps
--   e2e_ns   = last step end - first step start
--   Exposed communication of a rank in a window W is the time in W covered by
--   communication and by no compute, |(K ∪ C) ∩ W| - |K ∩ W| (the sets of overlap_by_rank).
--   Windows: TTFT = [first step start, last prefill end), decode = [last prefill end, last
--   decode end), E2E = [first step start, last step end). A run's share uses its most
--   exposed rank (the rank that bounds the latency):
--   ttft_exposed_comm_pct = 100 * max over ranks of exposed in the TTFT window / ttft_ns
--   tpot_exposed_comm_pct = 100 * max over ranks of exposed in the decode window
--                           / decode window length (the share of each output token's time)
--   e2e_exposed_comm_pct  = 100 * max over ranks of exposed in the E2E window / e2e_ns
-- Depends on: step_spans, traces, _lane_islands, _busy_islands, runs.
--   run_id
--   steps, prefill_steps, decode_steps   number of steps seen
--   first_ts_ns, last_end_ns             span of the steps, ns on the run timeline
--   ttft_ns, tpot_ns, e2e_ns             as above, ns (NULL where the steps are missing)
--   ttft_exposed_comm_ns, decode_exposed_comm_ns, e2e_exposed_comm_ns   ns, the most
--                                        exposed rank's, in each window
--   ttft_exposed_comm_pct, tpot_exposed_comm_pct, e2e_exposed_comm_pct  percent
--   manifest_ttft_ms, manifest_tpot_ms, manifest_e2e_ms   what the collector measured for
--       the first request (runs.manifest latency), ms, for comparison
CREATE OR REPLACE VIEW latency_by_run AS
WITH spans AS (
    SELECT run_id, count(*) AS steps,
           count(*) FILTER (WHERE phase = 'prefill') AS prefill_steps,
           count(*) FILTER (WHERE phase = 'decode') AS decode_steps,
           min(ts_ns) AS first_ts_ns, max(end_ns) AS last_end_ns,
           max(end_ns) FILTER (WHERE phase = 'prefill') AS prefill_end_ns,
           max(end_ns) FILTER (WHERE phase = 'decode') AS decode_end_ns
    FROM step_spans GROUP BY run_id
), latency AS (
    SELECT s.*,
           s.prefill_end_ns - s.first_ts_ns AS ttft_ns,
           (s.decode_end_ns - s.prefill_end_ns) // nullif(s.decode_steps, 0) AS tpot_ns,
           s.last_end_ns - s.first_ts_ns AS e2e_ns
    FROM spans s
), windows AS (
    SELECT run_id, 'ttft' AS w, first_ts_ns AS lo, prefill_end_ns AS hi FROM latency
    UNION ALL
    SELECT run_id, 'decode', prefill_end_ns, decode_end_ns FROM latency
    UNION ALL
    SELECT run_id, 'e2e', first_ts_ns, last_end_ns FROM latency
), sets AS (
    SELECT trace_id, device, 'k' AS grp, s_ns, e_ns FROM _lane_islands WHERE cls = 'compute'
    UNION ALL
    SELECT trace_id, device, grp, s_ns, e_ns FROM _busy_islands WHERE grp = 'kc'
), covered AS (
    SELECT w.run_id, w.w, x.trace_id, x.device,
           sum(least(x.e_ns, w.hi) - greatest(x.s_ns, w.lo)) FILTER (WHERE x.grp = 'kc')
         - coalesce(sum(least(x.e_ns, w.hi) - greatest(x.s_ns, w.lo))
                        FILTER (WHERE x.grp = 'k'), 0) AS exposed_ns
    FROM windows w
    JOIN traces t ON t.run_id = w.run_id
    JOIN sets x ON x.trace_id = t.trace_id AND x.s_ns < w.hi AND w.lo < x.e_ns
    GROUP BY w.run_id, w.w, x.trace_id, x.device
), worst AS (
    SELECT run_id,
           max(exposed_ns) FILTER (WHERE w = 'ttft') AS prefill_ns,
           max(exposed_ns) FILTER (WHERE w = 'decode') AS decode_ns,
           max(exposed_ns) FILTER (WHERE w = 'e2e') AS both_ns
    FROM covered GROUP BY run_id
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
