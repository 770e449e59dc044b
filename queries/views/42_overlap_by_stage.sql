-- overlap_by_stage: communication/compute overlap per rank, lane group and pipeline stage.
-- The same exact partition as overlap_by_layer (see its header for the rule: each instant of
-- a class's union belongs to the most recently started interval covering it, and carries
-- that event's labels), so the rows of a (run_id, rank, device) sum to overlap_by_rank.
-- Depends on: _overlap_parts (defined with overlap_by_layer), traces.
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
    SELECT trace_id, device, stage, sum(comm_ns) AS comm_ns, sum(compute_ns) AS compute_ns,
           sum(overlap_ns) AS overlap_ns
    FROM _overlap_parts GROUP BY trace_id, device, stage
)
SELECT t.run_id, t.rank, x.trace_id, x.device,
       CASE WHEN x.device IS NULL THEN 'cpu' ELSE 'gpu' || x.device END AS lane,
       x.stage,
       x.comm_ns::BIGINT AS comm_ns, x.compute_ns::BIGINT AS compute_ns,
       x.overlap_ns::BIGINT AS overlap_ns, (x.comm_ns - x.overlap_ns)::BIGINT AS exposed_comm_ns,
       round(100.0 * x.overlap_ns / nullif(x.comm_ns, 0), 4) AS overlap_pct
FROM sums x JOIN traces t USING (trace_id)
ORDER BY t.run_id, t.rank, x.device, stage NULLS LAST;
