-- temporal_breakdown: where each rank's profiled span goes, per lane group: compute,
-- communication, memory transfers, idle. Every instant of the span is counted exactly once,
-- by precedence compute > communication > memory > idle:
--   compute_ns = |K|                     (K: compute union, as in overlap_by_rank)
--   comm_ns    = |K ∪ C| - |K|           communication with no compute = exposed_comm_ns
--   memory_ns  = |K ∪ C ∪ M| - |K ∪ C|   memcpy/memset with neither compute nor communication
--   idle_ns    = span_ns - |K ∪ C ∪ M|
-- so compute_ns + comm_ns + memory_ns + idle_ns = span_ns. M is the device's gpu_memcpy and
-- gpu_memset events (none on the CPU lane).
-- |K ∪ C| = |K| + |C| - |K ∩ C| comes from overlap_by_rank's exact figures; only the lane
-- groups with memory transfers merge K ∪ C ∪ M again (the others' is |K ∪ C|).
-- Private helpers defined here:
--   _memory_intervals(trace_id, device, s_ns, e_ns): M, the gpu_memcpy and gpu_memset
--       events of the traces that hold kernels.
--   _busy_islands(trace_id, device, grp, s_ns, e_ns): disjoint islands of K ∪ C (grp 'kc')
--       and of K ∪ C ∪ M (grp 'kcm') per lane group (latency_by_run's windows).
--   _lane_time: overlap_by_rank's rows with memory_ns and idle_ns as defined above and
--       exposed_ns = |K ∪ C| - |K| (unrounded; temporal_breakdown and rank_overview read it).
-- Depends on: _lane_intervals, events, merged_intervals, overlap_by_rank.
--   run_id, rank, trace_id
--   device       GPU index; NULL for the CPU lane
--   lane         'gpu<device>' or 'cpu'
--   span_ns      first start to last end of the trace's events, ns
--   compute_ns, comm_ns, memory_ns, idle_ns   ns, as defined above
--   busy_ns      span_ns - idle_ns
--   compute_pct, comm_pct, memory_pct, idle_pct   100 * x / span_ns
CREATE OR REPLACE VIEW _memory_intervals AS
SELECT trace_id, device, ts_ns AS s_ns, ts_ns + dur_ns AS e_ns
FROM events
WHERE kind IN ('gpu_memcpy', 'gpu_memset')
  AND trace_id IN (SELECT DISTINCT trace_id FROM events WHERE kind = 'kernel');

CREATE OR REPLACE VIEW _busy_islands AS
WITH memory AS (
    SELECT trace_id, device, s_ns, e_ns FROM _memory_intervals
), lanes AS MATERIALIZED (
    SELECT trace_id, device, s_ns, e_ns FROM _lane_intervals
), layered AS (
    -- grp 'kc' = K ∪ C, grp 'kcm' = K ∪ C ∪ M
    SELECT trace_id, device, 'kc' AS grp, s_ns, e_ns FROM lanes
    UNION ALL
    SELECT trace_id, device, 'kcm', s_ns, e_ns FROM lanes
    UNION ALL
    SELECT trace_id, device, 'kcm', s_ns, e_ns FROM memory
)
SELECT trace_id, device, grp, s_ns, e_ns FROM merged_intervals('layered');

CREATE OR REPLACE VIEW _lane_time AS
WITH memory AS (
    SELECT trace_id, device, s_ns, e_ns FROM _memory_intervals
), memory_lanes AS (
    SELECT DISTINCT trace_id, device FROM memory
), layered AS (
    -- K ∪ C ∪ M, merged only on the lane groups with memory transfers
    SELECT i.trace_id, i.device, 'kcm' AS grp, i.s_ns, i.e_ns
    FROM _lane_intervals i
    SEMI JOIN memory_lanes m ON m.trace_id = i.trace_id AND m.device IS NOT DISTINCT FROM i.device
    UNION ALL
    SELECT trace_id, device, 'kcm', s_ns, e_ns FROM memory
), kcm AS (
    SELECT trace_id, device, sum(e_ns - s_ns) AS kcm_ns
    FROM merged_intervals('layered') GROUP BY trace_id, device
), unions AS (
    SELECT r.*, r.comm_ns + r.compute_ns - r.overlap_ns AS kc_ns, k.kcm_ns
    FROM overlap_by_rank r
    LEFT JOIN kcm k ON k.trace_id = r.trace_id AND k.device IS NOT DISTINCT FROM r.device
)
SELECT run_id, rank, trace_id, device, lane, comm_ns, compute_ns, overlap_ns, exposed_comm_ns,
       overlap_pct, span_ns,
       coalesce(kcm_ns, kc_ns) - kc_ns AS memory_ns,
       span_ns - coalesce(kcm_ns, kc_ns) AS idle_ns,
       kc_ns - compute_ns AS exposed_ns
FROM unions;

CREATE OR REPLACE VIEW temporal_breakdown AS
SELECT run_id, rank, trace_id, device, lane, span_ns,
       compute_ns::BIGINT AS compute_ns, exposed_ns::BIGINT AS comm_ns,
       memory_ns::BIGINT AS memory_ns, idle_ns::BIGINT AS idle_ns,
       (span_ns - idle_ns)::BIGINT AS busy_ns,
       round(100.0 * compute_ns / nullif(span_ns, 0), 4) AS compute_pct,
       round(100.0 * exposed_ns / nullif(span_ns, 0), 4) AS comm_pct,
       round(100.0 * memory_ns / nullif(span_ns, 0), 4) AS memory_pct,
       round(100.0 * idle_ns / nullif(span_ns, 0), 4) AS idle_pct
FROM _lane_time
ORDER BY run_id, rank, device;
