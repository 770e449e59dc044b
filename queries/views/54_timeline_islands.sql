-- timeline_islands(in_run, t0_ns, t1_ns): table macro. The communication and compute
-- islands of every rank of run `in_run` that meet the window [t0_ns, t1_ns), clipped to it:
-- exactly the islands overlap_by_rank measures, so what a timeline shows adds up to
-- overlap_by_rank's comm_ns and compute_ns.
-- Depends on: _lane_islands, traces.
--   rank, device   the lane group (device NULL for the CPU lane)
--   lane           'gpu<device>' or 'cpu', as in overlap_by_rank
--   cls            'comm' or 'compute'
--   s_ns, e_ns     island start and end clipped to the window, ns
CREATE OR REPLACE MACRO timeline_islands(in_run, t0_ns, t1_ns) AS TABLE
SELECT t.rank, i.device,
       CASE WHEN i.device IS NULL THEN 'cpu' ELSE 'gpu' || i.device END AS lane,
       i.cls, greatest(i.s_ns, t0_ns) AS s_ns, least(i.e_ns, t1_ns) AS e_ns
FROM _lane_islands i JOIN traces t USING (trace_id)
WHERE t.run_id = in_run AND i.e_ns > t0_ns AND i.s_ns < t1_ns;
