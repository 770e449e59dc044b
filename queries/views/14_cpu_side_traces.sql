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
WITH seen AS (
    SELECT trace_id,
           count(*) FILTER (WHERE kind IN ('kernel', 'gpu_memcpy', 'gpu_memset')) AS device_events,
           count(*) FILTER (WHERE (kind = 'user_annotation' AND starts_with(name, 'nccl:'))
                               OR (kind = 'cpu_op' AND name = 'record_param_comms'))
               AS nccl_calls,
           count(*) FILTER (WHERE kind = 'user_annotation' AND starts_with(name, 'gloo:'))
               AS gloo_ranges
    FROM events GROUP BY trace_id
)
SELECT t.run_id, t.rank, t.trace_id
FROM traces t JOIN seen s USING (trace_id)
WHERE s.device_events = 0 AND s.gloo_ranges = 0 AND s.nccl_calls > 0;
