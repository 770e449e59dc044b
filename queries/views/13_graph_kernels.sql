-- graph_kernels: device work (kernels, memcpy, memset) run by a CUDA graph replay, and
-- whether the trace attributes it to the code it came from. One graph launch (e.g.
-- cudaGraphLaunch) runs every node of the graph, and all that work shares the launch's
-- correlation id, so the ranges around the launch say when the graph ran (step, phase)
-- but not which layer or block each kernel belongs to, and a graph's NCCL and custom
-- all-reduce kernels have no record_param_comms (it ran when the graph was captured).
-- Detected by `graph_launch` (the launching call is a graph launch, or the work carries a
-- graph node id). Attributed: the trace holds the node's creation at capture
-- (`_graph_capture`; nsys with --cuda-graph-trace=node), whose ranges give layer, block
-- and stage (`event_labels`), the NCCL op and message size (`comm_ops`) and a SendRecv
-- kernel's direction (`_comm_groups`); step and phase still come from the replay. Not
-- attributed (Kineto, nsys without node tracing or with the capture outside the report):
-- only the replay's ranges label it, and a graph's communication kernel without a process
-- group is matched across ranks only where the run's layout is known (`_comm_groups`).
-- Depends on: events, traces, _graph_capture, graph_launch.
--   run_id, rank, trace_id, event_id   the device event
--   kind, name         its kind and name
--   launch_event_id    the graph launch (NULL when the trace lacks it)
--   launch_name        the launching call's name ('cudaGraphLaunch', ...)
--   graph_id           BIGINT  the trace's graph id (Kineto 'graph id', nsys graphId), or NULL
--   graph_node_id      BIGINT  its graph node id, or NULL
--   replay_events      BIGINT  device events sharing the launch (the replay as traced)
--   capture_event_id   the cuda_graph_node event that created the captured node, or NULL
--   attributed         BOOLEAN capture-time information labels it
CREATE OR REPLACE VIEW graph_kernels AS
WITH launches AS (
    SELECT trace_id, event_id, correlation, name FROM events
    WHERE kind IN ('cuda_runtime', 'cuda_driver') AND contains(name, 'GraphLaunch')
), graphed AS (
    SELECT d.trace_id, d.event_id, d.kind, d.name, d.args, l.event_id AS launch_event_id,
           l.name AS launch_name
    FROM events d
    LEFT JOIN launches l ON l.trace_id = d.trace_id AND l.correlation = d.correlation
    WHERE d.kind IN ('kernel', 'gpu_memcpy', 'gpu_memset') AND graph_launch(l.name, d.args)
), replays AS (
    SELECT trace_id, launch_event_id, count(*) AS replay_events
    FROM graphed WHERE launch_event_id IS NOT NULL GROUP BY trace_id, launch_event_id
)
SELECT t.run_id, t.rank, g.trace_id, g.event_id, g.kind, g.name, g.launch_event_id,
       g.launch_name,
       TRY_CAST(g.args->>'graph id' AS BIGINT) AS graph_id,
       TRY_CAST(g.args->>'graph node id' AS BIGINT) AS graph_node_id,
       coalesce(p.replay_events, 1) AS replay_events,
       c.capture_event_id,
       c.capture_event_id IS NOT NULL AS attributed
FROM graphed g
JOIN traces t ON t.trace_id = g.trace_id
LEFT JOIN replays p ON p.trace_id = g.trace_id AND p.launch_event_id = g.launch_event_id
LEFT JOIN _graph_capture c ON c.trace_id = g.trace_id AND c.event_id = g.event_id;
