-- merged_intervals(tbl): the union of the intervals of a table, per (trace_id, device, grp),
-- as disjoint islands [s_ns, e_ns): in start order, a row starts a new island when it starts
-- after every earlier end; touching or overlapping intervals merge. Exact integer ns.
-- `tbl` names a table, view or CTE with columns trace_id, device, grp, s_ns, e_ns.
-- Depends on: nothing.
--   trace_id, device, grp   the partition, as in `tbl`
--   s_ns, e_ns              island start and end, ns
CREATE OR REPLACE MACRO merged_intervals(tbl) AS TABLE
WITH ordered AS (
    SELECT trace_id, device, grp, s_ns, e_ns,
           max(e_ns) OVER (PARTITION BY trace_id, device, grp ORDER BY s_ns, e_ns
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM query_table(tbl)
), numbered AS (
    SELECT *, sum(CASE WHEN prev_end IS NULL OR s_ns > prev_end THEN 1 ELSE 0 END)
                  OVER (PARTITION BY trace_id, device, grp ORDER BY s_ns, e_ns
                        ROWS UNBOUNDED PRECEDING) AS island
    FROM ordered
)
SELECT trace_id, device, grp, min(s_ns) AS s_ns, max(e_ns) AS e_ns
FROM numbered
GROUP BY trace_id, device, grp, island;
