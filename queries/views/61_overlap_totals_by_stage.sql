-- overlap_totals_by_stage: overlap_by_stage of each run summed over its ranks and lane
-- groups, one row per pipeline stage (the totals of the TUI's Overlap screen).
-- Depends on: overlap_by_stage.
--   run_id
--   stage           INTEGER  pipeline stage (a tk:stage=N range, else the rank's pp_rank);
--                 NULL = unknown
--   ranks           BIGINT   ranks with time in this stage
--   comm_ns         BIGINT   communication time owned by ops with this stage, all ranks, ns
--   compute_ns      BIGINT   compute time owned by kernels/ops with this stage, all ranks, ns
--   overlap_ns      BIGINT   part of comm_ns during which compute runs, ns
--   exposed_comm_ns BIGINT   comm_ns - overlap_ns, ns
--   overlap_pct     DOUBLE   100 * overlap_ns / comm_ns, 2 decimals (NULL without communication)
CREATE OR REPLACE VIEW overlap_totals_by_stage AS
SELECT run_id, stage, count(DISTINCT rank) AS ranks, sum(comm_ns)::BIGINT AS comm_ns,
       sum(compute_ns)::BIGINT AS compute_ns, sum(overlap_ns)::BIGINT AS overlap_ns,
       sum(exposed_comm_ns)::BIGINT AS exposed_comm_ns,
       round(100.0 * sum(overlap_ns) / nullif(sum(comm_ns), 0), 2) AS overlap_pct
FROM overlap_by_stage
GROUP BY run_id, stage
ORDER BY run_id, stage NULLS LAST;
