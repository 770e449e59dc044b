-- merged_intervals(tbl): the union of the intervals of a table, per (trace_id, device, grp),
-- as disjoint islands [s_ns, e_ns): in start order, a row starts a new island when it starts
-- after every earlier end; touching or overlapping intervals merge. Exact integer ns.
-- Two sorts and no grouping: the first pass marks the island starts (and each partition's
-- last row, where the last island ends); the second pairs each start with the end of its
-- island, the running maximum of the ends just before the next start.
-- `tbl` names a table, view or CTE with columns trace_id, device, grp, s_ns, e_ns.
-- Depends on: nothing.
--   trace_id, device, grp   the partition, as in `tbl`
--   s_ns, e_ns              island start and end, ns
CREATE OR REPLACE MACRO merged_intervals(tbl) AS TABLE
WITH ordered AS (
    SELECT trace_id, device, grp, s_ns, e_ns,
           max(e_ns) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end,
           max(e_ns) OVER (w ROWS UNBOUNDED PRECEDING) AS reach,
           lead(s_ns) OVER w AS next_s
    FROM query_table(tbl)
    WINDOW w AS (PARTITION BY trace_id, device, grp ORDER BY s_ns, e_ns)
), bounds AS (
    SELECT trace_id, device, grp, s_ns, e_ns, prev_end, reach,
           prev_end IS NULL OR s_ns > prev_end AS starts
    FROM ordered
    WHERE prev_end IS NULL OR s_ns > prev_end OR next_s IS NULL
), paired AS (
    -- a start's island ends where the next start's earlier rows reach, or (no later
    -- start) where the partition's last row reaches
    SELECT trace_id, device, grp, s_ns, starts,
           CASE WHEN lead(starts) OVER w THEN lead(prev_end) OVER w
                ELSE coalesce(lead(reach) OVER w, reach) END AS e_ns
    FROM bounds
    WINDOW w AS (PARTITION BY trace_id, device, grp ORDER BY s_ns, e_ns, starts DESC)
)
SELECT trace_id, device, grp, s_ns, e_ns
FROM paired
WHERE starts;
