-- rank_overview: overlap_by_rank with where the rest of each lane group's span goes: the
-- rows of overlap_by_rank, plus temporal_breakdown's memory and idle time (idle leaves out
-- memory transfers). One row per rank and lane group.
-- Depends on: overlap_by_rank, temporal_breakdown.
--   run_id, rank, trace_id, device, lane, comm_ns, compute_ns, overlap_ns,
--   exposed_comm_ns, overlap_pct, span_ns     as in overlap_by_rank
--   memory_ns    memcpy/memset time with neither compute nor communication, ns
--   idle_ns      span_ns less compute, communication and memory time, ns
--   idle_pct     100 * idle_ns / span_ns
CREATE OR REPLACE VIEW rank_overview AS
SELECT o.*, t.memory_ns, t.idle_ns, t.idle_pct
FROM overlap_by_rank o
LEFT JOIN temporal_breakdown t
  ON t.trace_id = o.trace_id AND t.device IS NOT DISTINCT FROM o.device
ORDER BY o.run_id, o.rank, o.device;
