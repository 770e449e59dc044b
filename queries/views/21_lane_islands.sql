-- _lane_islands (private): the union of `_lane_intervals` per (trace, device, cls) as
-- disjoint islands [s_ns, e_ns). Touching or overlapping intervals merge. Exact integer ns.
-- Depends on: _lane_intervals, merged_intervals.
--   trace_id, device, cls   the lane group and class
--   s_ns, e_ns              island start and end, ns
CREATE OR REPLACE VIEW _lane_islands AS
WITH intervals AS (
    SELECT trace_id, device, cls AS grp, s_ns, e_ns FROM _lane_intervals
)
SELECT trace_id, device, grp AS cls, s_ns, e_ns
FROM merged_intervals('intervals');
