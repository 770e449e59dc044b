-- cpu_side_traces: traces that hold only the CPU side of a GPU run: NCCL calls recorded on
-- the CPU (record_param_comms operators or torch's nccl:<op> ranges) but no kernel, memcpy
-- or memset, and no gloo communication. `tracekit collect --profiler both` writes such
-- Kineto traces: nsys owns CUPTI, so torch.profiler records CPU activity only. There the
-- CPU ranges of NCCL calls end when the work is enqueued and the operators only launch
-- kernels: measured on the CPU they would show zero communication and count everything as
-- compute. So these traces give no overlap (`_lane_intervals`) and no step times
-- (`step_spans`), their runs no call counts in `run_comparison`, and `tracekit validate`
-- refuses their runs; the same ranks' nsys traces (run '<run>-nsys') hold the figures.
-- Depends on: events, traces.
--   run_id, rank, trace_id   the trace
CREATE OR REPLACE VIEW cpu_side_traces AS
WITH device AS (
    SELECT DISTINCT trace_id FROM events WHERE kind IN ('kernel', 'gpu_memcpy', 'gpu_memset')
), candidates AS (
    -- the traces without device work (the others' events are not read again)
    SELECT trace_id FROM traces WHERE trace_id NOT IN (SELECT trace_id FROM device)
), seen AS (
    SELECT e.trace_id,
           count(*) FILTER (WHERE (e.kind = 'user_annotation' AND starts_with(e.name, 'nccl:'))
                               OR (e.kind = 'cpu_op' AND e.name = 'record_param_comms'))
               AS nccl_calls,
           count(*) FILTER (WHERE e.kind = 'user_annotation' AND starts_with(e.name, 'gloo:'))
               AS gloo_ranges
    FROM events e JOIN candidates c ON c.trace_id = e.trace_id
    GROUP BY e.trace_id
)
SELECT t.run_id, t.rank, t.trace_id
FROM traces t JOIN seen s USING (trace_id)
WHERE s.gloo_ranges = 0 AND s.nccl_calls > 0;
