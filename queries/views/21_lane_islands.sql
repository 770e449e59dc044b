-- _lane_islands (private): the union of `_lane_intervals` per (trace, device, cls) as
-- disjoint islands [s_ns, e_ns). Touching or overlapping intervals merge. Exact integer ns.
-- Depends on: _lane_intervals.
--   trace_id, device, cls   the lane group and class
--   s_ns, e_ns              island start and end, ns
CREATE OR REPLACE VIEW _lane_islands AS
WITH ordered AS (
    SELECT trace_id, device, cls, s_ns, e_ns,
           max(e_ns) OVER (PARTITION BY trace_id, device, cls ORDER BY s_ns, e_ns
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM _lane_intervals
), numbered AS (
    SELECT *, sum(CASE WHEN prev_end IS NULL OR s_ns > prev_end THEN 1 ELSE 0 END)
                  OVER (PARTITION BY trace_id, device, cls ORDER BY s_ns, e_ns
                        ROWS UNBOUNDED PRECEDING) AS island
    FROM ordered
)
SELECT trace_id, device, cls, min(s_ns) AS s_ns, max(e_ns) AS e_ns
FROM numbered
GROUP BY trace_id, device, cls, island;
