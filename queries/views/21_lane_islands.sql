-- _lane_islands (private): the union of `_lane_intervals` per (trace, device, cls) as
-- disjoint islands [s_ns, e_ns). Touching or overlapping intervals merge. Exact integer ns.
-- (The class goes into the merge as a boolean: a cheaper sort key than its name.)
-- Depends on: _lane_intervals, merged_intervals.
--   trace_id, device, cls   the lane group and class
--   s_ns, e_ns              island start and end, ns
CREATE OR REPLACE VIEW _lane_islands AS
WITH intervals AS (
    SELECT trace_id, device, cls = 'comm' AS grp, s_ns, e_ns FROM _lane_intervals
)
SELECT trace_id, device, CASE WHEN grp THEN 'comm' ELSE 'compute' END AS cls, s_ns, e_ns
FROM merged_intervals('intervals');
