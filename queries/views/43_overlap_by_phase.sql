-- overlap_by_phase: communication/compute overlap per rank, lane group and generation phase.
-- The same exact partition as overlap_by_layer (see its header for the rule: each instant of
-- a class's union belongs to the most recently started interval covering it, and carries
-- that event's labels), so the rows of a (run_id, rank, device) sum to overlap_by_rank.
-- Depends on: _overlap_by_label (defined with overlap_by_layer).
--   run_id, rank, trace_id
--   device          GPU index; NULL for the CPU lane (gloo)
--   lane            'gpu<device>' or 'cpu'
--   phase           VARCHAR  'prefill' | 'decode' (tk:phase=...) of the owning events;
--                 NULL = outside any step range
--   comm_ns         communication time owned by ops with this phase, ns
--   compute_ns      compute time owned by kernels/ops with this phase, ns
--   overlap_ns      part of comm_ns during which compute runs, ns
--   exposed_comm_ns comm_ns - overlap_ns, ns
--   overlap_pct     100 * overlap_ns / comm_ns (NULL without communication)
CREATE OR REPLACE VIEW overlap_by_phase AS
SELECT * FROM _overlap_by_label('phase')
ORDER BY run_id, rank, device, phase NULLS LAST;
