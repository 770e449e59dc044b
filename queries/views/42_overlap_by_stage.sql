-- overlap_by_stage: communication/compute overlap per rank, lane group and pipeline stage.
-- The same exact partition as overlap_by_layer (see its header for the rule: each instant of
-- a class's union belongs to the most recently started interval covering it, and carries
-- that event's labels), so the rows of a (run_id, rank, device) sum to overlap_by_rank.
-- Depends on: _lane_segments, event_labels, traces, _rank_roles.
--   run_id, rank, trace_id
--   device          GPU index; NULL for the CPU lane (gloo)
--   lane            'gpu<device>' or 'cpu'
--   stage           INTEGER  pipeline stage of the owning events (a tk:stage=N range, else
--                 the rank's pp_rank); NULL = unknown
--   comm_ns         communication time owned by ops with this stage, ns
--   compute_ns      compute time owned by kernels/ops with this stage, ns
--   overlap_ns      part of comm_ns during which compute runs, ns
--   exposed_comm_ns comm_ns - overlap_ns, ns
--   overlap_pct     100 * overlap_ns / comm_ns (NULL without communication)
CREATE OR REPLACE VIEW overlap_by_stage AS
WITH sums AS (
    SELECT s.trace_id, s.device, coalesce(l.stage, rr.pp_rank) AS stage,
           coalesce(sum(s.dur_ns) FILTER (WHERE s.cls = 'comm'), 0) AS comm_ns,
           coalesce(sum(s.dur_ns) FILTER (WHERE s.cls = 'compute'), 0) AS compute_ns,
           coalesce(sum(s.overlap_ns) FILTER (WHERE s.cls = 'comm'), 0) AS overlap_ns
    FROM _lane_segments s
    LEFT JOIN event_labels l USING (trace_id, event_id)
    JOIN traces t ON t.trace_id = s.trace_id
    LEFT JOIN _rank_roles rr ON rr.run_id = t.run_id AND rr.rank = t.rank
    GROUP BY ALL
)
SELECT t.run_id, t.rank, x.trace_id, x.device,
       CASE WHEN x.device IS NULL THEN 'cpu' ELSE 'gpu' || x.device END AS lane,
       x.stage,
       x.comm_ns::BIGINT AS comm_ns, x.compute_ns::BIGINT AS compute_ns,
       x.overlap_ns::BIGINT AS overlap_ns, (x.comm_ns - x.overlap_ns)::BIGINT AS exposed_comm_ns,
       round(100.0 * x.overlap_ns / nullif(x.comm_ns, 0), 4) AS overlap_pct
FROM sums x JOIN traces t USING (trace_id)
ORDER BY t.run_id, t.rank, x.device, stage NULLS LAST;
