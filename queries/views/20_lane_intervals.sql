-- _lane_intervals (private): the intervals whose unions define communication and compute
-- time, one row per event, on the lane group where overlap is measured.
--   GPU traces (the trace has kernels): per device.
--     comm    = comm_ops kernels on the device (all streams)
--     compute = every other kernel on the device (memcpy/memset are not kernels and
--               count as neither)
--   CPU-only traces (no kernels; gloo): one group per trace, device NULL.
--     comm    = comm_ops on any thread (gloo:* ranges: pt_gloo_runloop worker threads for
--               collectives, the calling thread for send/recv)
--     compute = top-level `cpu_op` events (not nested in another cpu_op of the same thread)
--               on threads whose name does not mention gloo, except the c10d::* launch ops
--               and record_param_comms (so a blocking c10d::recv_ is not compute)
--   Traces of a GPU run's CPU side only (cpu_side_traces: NCCL, no device work) give none.
-- Depends on: events, _comm_names, threads, cpu_side_traces.
--   trace_id, device   the lane group (device NULL for the CPU group)
--   cls                'comm' or 'compute'
--   event_id           the event
--   s_ns, e_ns         start and end, ns
CREATE OR REPLACE VIEW _lane_intervals AS
WITH gpu_traces AS (
    SELECT DISTINCT trace_id FROM events WHERE kind = 'kernel'
), comm_names AS MATERIALIZED (
    -- classified once: read twice below
    SELECT kind, name FROM _comm_names
), comm AS (
    -- the rows of comm_ops (events whose (kind, name) _comm_names classifies), read
    -- straight from events: none of comm_ops' enrichment is needed here
    SELECT e.trace_id, e.event_id, e.device, e.ts_ns, e.ts_ns + e.dur_ns AS end_ns
    FROM events e SEMI JOIN comm_names n ON n.kind = e.kind AND n.name = e.name
), gloo_threads AS (
    SELECT DISTINCT trace_id, tid FROM threads WHERE tid IS NOT NULL AND name ILIKE '%gloo%'
), cpu_ops AS (
    SELECT e.trace_id, e.event_id, e.name, e.ts_ns, e.ts_ns + e.dur_ns AS end_ns,
           max(e.ts_ns + e.dur_ns) OVER (
               PARTITION BY e.trace_id, e.pid, e.tid ORDER BY e.ts_ns, e.dur_ns DESC, e.event_id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS enclosing_end
    FROM events e
    WHERE e.kind = 'cpu_op' AND e.trace_id NOT IN (SELECT trace_id FROM gpu_traces)
      AND e.trace_id NOT IN (SELECT trace_id FROM cpu_side_traces)
      AND NOT EXISTS (SELECT 1 FROM gloo_threads g WHERE g.trace_id = e.trace_id AND g.tid = e.tid)
)
SELECT c.trace_id,
       CASE WHEN c.trace_id IN (SELECT trace_id FROM gpu_traces) THEN c.device END AS device,
       'comm' AS cls, c.event_id, c.ts_ns AS s_ns, c.end_ns AS e_ns
FROM comm c
UNION ALL
SELECT e.trace_id, e.device, 'compute', e.event_id, e.ts_ns, e.ts_ns + e.dur_ns
FROM events e
WHERE e.kind = 'kernel'
  -- not communication: comm_ops are exactly the events whose (kind, name) _comm_names
  -- classifies, so an anti join on the few distinct names replaces one on every event
  AND NOT EXISTS (SELECT 1 FROM comm_names n WHERE n.kind = e.kind AND n.name = e.name)
UNION ALL
SELECT trace_id, NULL, 'compute', event_id, ts_ns, end_ns
FROM cpu_ops
WHERE (enclosing_end IS NULL OR ts_ns >= enclosing_end)
  AND NOT starts_with(name, 'c10d::') AND name <> 'record_param_comms';
