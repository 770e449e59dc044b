-- _graph_capture (private): for a kernel of a CUDA graph replay, the CPU call that created
-- its graph node while the graph was captured: the point whose enclosing annotation ranges
-- say which code the kernel came from (layer, block, the NCCL call and its message size).
-- A replay's kernels all share the graph launch's correlation id, so the ranges around
-- that launch say only when the graph ran. Needs the node events of nsys
-- --cuda-graph-trace=node (CUDA_GRAPH_NODE_EVENTS, events.kind 'cuda_graph_node'): a
-- replayed kernel carries the node id of the instantiated graph ('graph node id' in
-- events.args), instantiation cloned that node from the captured one ('original graph node
-- id'); up to three clones are followed back. A chain that leaves the trace (captured
-- before the capture range began) gives no row, nor do Kineto traces, which record no node
-- creation (graph_kernels flags that work as not attributed).
-- Depends on: events.
--   trace_id, event_id    the replayed kernel
--   capture_event_id      the cuda_graph_node event that created the captured node
--   pid, tid              the capturing thread
--   capture_ts_ns         when the node was created, ns
CREATE OR REPLACE VIEW _graph_capture AS
WITH created AS (
    SELECT trace_id, event_id, pid, tid, ts_ns,
           TRY_CAST(args->>'graph node id' AS BIGINT) AS node_id,
           TRY_CAST(args->>'original graph node id' AS BIGINT) AS original_id,
           row_number() OVER (
               PARTITION BY trace_id, TRY_CAST(args->>'graph node id' AS BIGINT)
               ORDER BY ts_ns, event_id) AS nth
    FROM events WHERE kind = 'cuda_graph_node'
), nodes AS (
    SELECT * FROM created WHERE nth = 1
), roots AS (
    SELECT n.trace_id, n.node_id,
           CASE WHEN n.original_id IS NULL THEN n.event_id
                WHEN n1.original_id IS NULL THEN n1.event_id
                WHEN n2.original_id IS NULL THEN n2.event_id
                WHEN n3.original_id IS NULL THEN n3.event_id END AS root_id
    FROM nodes n
    LEFT JOIN nodes n1 ON n1.trace_id = n.trace_id AND n1.node_id = n.original_id
    LEFT JOIN nodes n2 ON n2.trace_id = n.trace_id AND n2.node_id = n1.original_id
    LEFT JOIN nodes n3 ON n3.trace_id = n.trace_id AND n3.node_id = n2.original_id
)
SELECT k.trace_id, k.event_id, c.event_id AS capture_event_id, c.pid, c.tid,
       c.ts_ns AS capture_ts_ns
FROM events k
JOIN roots r
  ON r.trace_id = k.trace_id AND r.node_id = TRY_CAST(k.args->>'graph node id' AS BIGINT)
JOIN nodes c ON c.trace_id = r.trace_id AND c.event_id = r.root_id
WHERE k.kind = 'kernel' AND k.trace_id IN (SELECT trace_id FROM nodes);
