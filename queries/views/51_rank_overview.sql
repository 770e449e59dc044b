-- rank_overview: overlap_by_rank with where the rest of each lane group's span goes: the
-- rows of overlap_by_rank, plus temporal_breakdown's memory and idle time (idle leaves out
-- memory transfers). One row per rank and lane group.
-- Both come from _lane_time (44_temporal_breakdown.sql), which reads overlap_by_rank once.
-- Depends on: _lane_time.
--   run_id, rank, trace_id, device, lane, comm_ns, compute_ns, overlap_ns,
--   exposed_comm_ns, overlap_pct, span_ns     as in overlap_by_rank
--   memory_ns    memcpy/memset time with neither compute nor communication, ns
--   idle_ns      span_ns less compute, communication and memory time, ns
--   idle_pct     100 * idle_ns / span_ns
CREATE OR REPLACE VIEW rank_overview AS
SELECT run_id, rank, trace_id, device, lane, comm_ns, compute_ns, overlap_ns, exposed_comm_ns,
       overlap_pct, span_ns, memory_ns::BIGINT AS memory_ns, idle_ns::BIGINT AS idle_ns,
       round(100.0 * idle_ns / nullif(span_ns, 0), 4) AS idle_pct
FROM _lane_time
ORDER BY run_id, rank, device;
