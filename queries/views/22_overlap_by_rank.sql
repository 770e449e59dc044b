-- overlap_by_rank: communication/compute overlap per rank and device (GPU traces) or per
-- rank on the CPU lane (CPU-only gloo traces; device NULL). Definitions of the two interval
-- sets are in _lane_intervals. Exact interval arithmetic in integer ns.
-- Overlap is computed without a range join: with F(t) = compute-island time before t (an
-- ASOF lookup of the last island starting at or before t, plus the running sum of the
-- islands before it), |[s, e) ∩ K| = F(e) - F(s) for each communication island. The
-- islands are computed once per query (a MATERIALIZED CTE read three times: inlined, each
-- reference planned and ran the whole _lane_intervals tree again).
-- Depends on: _lane_islands, traces, events.
--   run_id, rank, trace_id
--   device          GPU index; NULL for the CPU lane
--   lane            'gpu<device>' or 'cpu'
--   comm_ns         |C|: time covered by at least one communication op
--   compute_ns      |K|: time covered by at least one compute op
--   overlap_ns      |C ∩ K|: communication time during which compute also runs
--   exposed_comm_ns |C| - |C ∩ K|: communication with no compute to hide behind
--   overlap_pct     100 * overlap_ns / comm_ns (NULL without communication); the same
--                   definition as Holistic Trace Analysis' comm/comp overlap
--   span_ns         first start to last end of the trace's events
CREATE OR REPLACE VIEW overlap_by_rank AS
WITH islands AS MATERIALIZED (
    SELECT trace_id, device, cls, s_ns, e_ns FROM _lane_islands
), totals AS (
    SELECT trace_id, device,
           sum(e_ns - s_ns) FILTER (WHERE cls = 'comm') AS comm_ns,
           sum(e_ns - s_ns) FILTER (WHERE cls = 'compute') AS compute_ns
    FROM islands GROUP BY trace_id, device
), compute_before AS (
    -- compute islands with dev_key = coalesce(device, -1) (an equality key ASOF joins
    -- accept) and before_ns = total island time before this island
    SELECT trace_id, coalesce(device, -1) AS dev_key, s_ns, e_ns,
           coalesce(sum(e_ns - s_ns) OVER (PARTITION BY trace_id, device ORDER BY s_ns
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                    0) AS before_ns
    FROM islands WHERE cls = 'compute'
), points AS (
    SELECT trace_id, device, coalesce(device, -1) AS dev_key,
           unnest([s_ns, e_ns]) AS t, unnest([-1, 1]) AS sign
    FROM islands WHERE cls = 'comm'
), at_points AS (
    SELECT p.trace_id, p.device,
           p.sign * coalesce(k.before_ns + least(p.t, k.e_ns) - k.s_ns, 0) AS overlap_ns
    FROM points p
    ASOF LEFT JOIN compute_before k
      ON k.trace_id = p.trace_id AND k.dev_key = p.dev_key AND k.s_ns <= p.t
), overlap AS (
    SELECT trace_id, device, sum(overlap_ns) AS overlap_ns
    FROM at_points GROUP BY trace_id, device
), spans AS (
    SELECT trace_id, min(ts_ns) AS first_ns, max(ts_ns + dur_ns) AS last_ns
    FROM events GROUP BY trace_id
)
SELECT t.run_id, t.rank, x.trace_id, x.device,
       CASE WHEN x.device IS NULL THEN 'cpu' ELSE 'gpu' || x.device END AS lane,
       coalesce(x.comm_ns, 0) AS comm_ns,
       coalesce(x.compute_ns, 0) AS compute_ns,
       coalesce(o.overlap_ns, 0) AS overlap_ns,
       coalesce(x.comm_ns, 0) - coalesce(o.overlap_ns, 0) AS exposed_comm_ns,
       round(100.0 * coalesce(o.overlap_ns, 0) / nullif(x.comm_ns, 0), 4) AS overlap_pct,
       s.last_ns - s.first_ns AS span_ns
FROM totals x
JOIN traces t USING (trace_id)
JOIN spans s USING (trace_id)
LEFT JOIN overlap o ON o.trace_id = x.trace_id AND o.device IS NOT DISTINCT FROM x.device
ORDER BY t.run_id, t.rank, x.device;
