-- overlap_by_rank: communication/compute overlap per rank and device (GPU traces) or per
-- rank on the CPU lane (CPU-only gloo traces; device NULL). Definitions of the two interval
-- sets are in _lane_intervals. Exact interval arithmetic in integer ns.
-- Depends on: _lane_islands, traces.
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
    SELECT * FROM _lane_islands
), totals AS (
    SELECT trace_id, device,
           sum(e_ns - s_ns) FILTER (WHERE cls = 'comm') AS comm_ns,
           sum(e_ns - s_ns) FILTER (WHERE cls = 'compute') AS compute_ns
    FROM islands GROUP BY trace_id, device
), ordered AS (
    -- |C ∩ K| = |C| + |K| - |C ∪ K| (each class's islands are disjoint): the union of
    -- both classes' islands is one more sweep, far cheaper than a range join
    SELECT trace_id, device, s_ns, e_ns,
           max(e_ns) OVER (PARTITION BY trace_id, device ORDER BY s_ns, e_ns
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM islands
), numbered AS (
    SELECT *, sum(CASE WHEN prev_end IS NULL OR s_ns > prev_end THEN 1 ELSE 0 END)
                  OVER (PARTITION BY trace_id, device ORDER BY s_ns, e_ns
                        ROWS UNBOUNDED PRECEDING) AS island
    FROM ordered
), unioned AS (
    SELECT trace_id, device, sum(e_ns - s_ns) AS union_ns
    FROM (SELECT trace_id, device, min(s_ns) AS s_ns, max(e_ns) AS e_ns
          FROM numbered GROUP BY trace_id, device, island)
    GROUP BY trace_id, device
), overlap AS (
    SELECT x.trace_id, x.device,
           coalesce(x.comm_ns, 0) + coalesce(x.compute_ns, 0) - u.union_ns AS overlap_ns
    FROM totals x
    JOIN unioned u ON u.trace_id = x.trace_id AND u.device IS NOT DISTINCT FROM x.device
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
