-- timeline_islands(in_run, t0_ns, t1_ns): table macro. The communication and compute
-- islands of every rank of run `in_run` within the window [t0_ns, t1_ns): the union of the
-- intervals overlap_by_rank unites (_lane_intervals), clipped to the window first (the
-- union of clipped intervals is the clipped union, and a short window merges few rows),
-- so what a timeline shows adds up to overlap_by_rank's comm_ns and compute_ns.
-- Private helper defined here:
--   _timeline_islands_of(in_run, in_rank, t0_ns, t1_ns): the same rows for rank in_rank
--       only (NULL: every rank), the rank chosen before the merge (timeline_buckets: a
--       rank's lane chart merges that rank's intervals, not the run's).
-- Depends on: _lane_intervals, merged_intervals, traces.
--   rank, device   the lane group (device NULL for the CPU lane)
--   lane           'gpu<device>' or 'cpu', as in overlap_by_rank
--   cls            'comm' or 'compute'
--   s_ns, e_ns     island start and end clipped to the window, ns
CREATE OR REPLACE MACRO _timeline_islands_of(in_run, in_rank, t0_ns, t1_ns) AS TABLE
WITH intervals AS (
    SELECT i.trace_id, i.device, i.cls AS grp,
           greatest(i.s_ns, t0_ns) AS s_ns, least(i.e_ns, t1_ns) AS e_ns
    FROM _lane_intervals i
    WHERE i.trace_id IN (SELECT trace_id FROM traces
                         WHERE run_id = in_run AND (in_rank IS NULL OR rank = in_rank))
      AND i.e_ns > t0_ns AND i.s_ns < t1_ns
)
SELECT t.rank, m.device,
       CASE WHEN m.device IS NULL THEN 'cpu' ELSE 'gpu' || m.device END AS lane,
       m.grp AS cls, m.s_ns, m.e_ns
FROM merged_intervals('intervals') m JOIN traces t USING (trace_id);

CREATE OR REPLACE MACRO timeline_islands(in_run, t0_ns, t1_ns) AS TABLE
SELECT * FROM _timeline_islands_of(in_run, NULL, t0_ns, t1_ns);
