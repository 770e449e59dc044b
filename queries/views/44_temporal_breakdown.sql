-- temporal_breakdown: where each rank's profiled span goes, per lane group: compute,
-- communication, memory transfers, idle. Every instant of the span is counted exactly once,
-- by precedence compute > communication > memory > idle:
--   compute_ns = |K|                     (K: compute union, as in overlap_by_rank)
--   comm_ns    = |K ∪ C| - |K|           communication with no compute = exposed_comm_ns
--   memory_ns  = |K ∪ C ∪ M| - |K ∪ C|   memcpy/memset with neither compute nor communication
--   idle_ns    = span_ns - |K ∪ C ∪ M|
-- so compute_ns + comm_ns + memory_ns + idle_ns = span_ns. M is the device's gpu_memcpy and
-- gpu_memset events (none on the CPU lane).
-- Private helper defined here:
--   _busy_islands(trace_id, device, grp, s_ns, e_ns): disjoint islands of K ∪ C (grp 'kc')
--       and of K ∪ C ∪ M (grp 'kcm') per lane group.
-- Depends on: _lane_intervals, events, merged_intervals, overlap_by_rank.
--   run_id, rank, trace_id
--   device       GPU index; NULL for the CPU lane
--   lane         'gpu<device>' or 'cpu'
--   span_ns      first start to last end of the trace's events, ns
--   compute_ns, comm_ns, memory_ns, idle_ns   ns, as defined above
--   busy_ns      span_ns - idle_ns
--   compute_pct, comm_pct, memory_pct, idle_pct   100 * x / span_ns
CREATE OR REPLACE VIEW _busy_islands AS
WITH memory AS (
    SELECT trace_id, device, event_id, ts_ns AS s_ns, ts_ns + dur_ns AS e_ns
    FROM events
    WHERE kind IN ('gpu_memcpy', 'gpu_memset')
      AND trace_id IN (SELECT DISTINCT trace_id FROM events WHERE kind = 'kernel')
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

CREATE OR REPLACE VIEW temporal_breakdown AS
WITH islands AS (
    SELECT trace_id, device, grp, e_ns - s_ns AS len FROM _busy_islands
), unions AS (
    SELECT trace_id, device,
           coalesce(sum(len) FILTER (WHERE grp = 'kc'), 0) AS kc_ns,
           coalesce(sum(len) FILTER (WHERE grp = 'kcm'), 0) AS kcm_ns
    FROM islands GROUP BY trace_id, device
), parts AS (
    SELECT r.run_id, r.rank, r.trace_id, r.device, r.lane, r.span_ns,
           r.compute_ns,
           u.kc_ns - r.compute_ns AS comm_ns,
           u.kcm_ns - u.kc_ns AS memory_ns,
           r.span_ns - u.kcm_ns AS idle_ns
    FROM overlap_by_rank r
    JOIN unions u ON u.trace_id = r.trace_id AND u.device IS NOT DISTINCT FROM r.device
)
SELECT run_id, rank, trace_id, device, lane, span_ns,
       compute_ns::BIGINT AS compute_ns, comm_ns::BIGINT AS comm_ns,
       memory_ns::BIGINT AS memory_ns, idle_ns::BIGINT AS idle_ns,
       (span_ns - idle_ns)::BIGINT AS busy_ns,
       round(100.0 * compute_ns / nullif(span_ns, 0), 4) AS compute_pct,
       round(100.0 * comm_ns / nullif(span_ns, 0), 4) AS comm_pct,
       round(100.0 * memory_ns / nullif(span_ns, 0), 4) AS memory_pct,
       round(100.0 * idle_ns / nullif(span_ns, 0), 4) AS idle_pct
FROM parts
ORDER BY run_id, rank, device;
