-- event_launches: the CPU event that launched each device-side event or communication op.
--   kernels, memcpy, memset (Kineto and nsys): the CUDA runtime/driver call with the same
--       correlation id in the same trace.
--   gloo communication (CPU): the k-th gloo:<op> range of a trace is launched by the k-th
--       c10d::<op> operator of that trace (gloo runs collectives on worker threads in
--       the order they were issued; send/recv run inside their c10d op).
-- Depends on: events, comm_ops, comm_op_aliases.
--   trace_id, event_id      the launched event
--   launch_event_id         the launching CPU event
--   pid, tid                the launching thread
--   launch_ts_ns            when the launch started, ns
CREATE OR REPLACE VIEW event_launches AS
WITH gpu AS (
    SELECT d.trace_id, d.event_id, r.event_id AS launch_event_id, r.pid, r.tid,
           r.ts_ns AS launch_ts_ns
    FROM events d
    JOIN events r
      ON r.trace_id = d.trace_id AND r.correlation = d.correlation
     AND r.kind IN ('cuda_runtime', 'cuda_driver')
    WHERE d.kind IN ('kernel', 'gpu_memcpy', 'gpu_memset') AND d.correlation IS NOT NULL
), gloo_ops AS (
    SELECT trace_id, event_id, op,
           row_number() OVER (PARTITION BY trace_id, op ORDER BY ts_ns, event_id) AS k
    FROM comm_ops WHERE library = 'gloo'
), aliases AS (
    SELECT DISTINCT lower(alias) AS alias, op FROM comm_op_aliases
), c10d AS (
    SELECT e.trace_id, e.event_id, e.pid, e.tid, e.ts_ns, a.op,
           row_number() OVER (PARTITION BY e.trace_id, a.op ORDER BY e.ts_ns, e.event_id) AS k
    FROM events e
    JOIN aliases a ON a.alias = lower(rtrim(e.name[7:], '_'))
    WHERE e.kind = 'cpu_op' AND starts_with(e.name, 'c10d::')
)
SELECT * FROM gpu
UNION ALL
SELECT g.trace_id, g.event_id, c.event_id, c.pid, c.tid, c.ts_ns
FROM gloo_ops g JOIN c10d c USING (trace_id, op, k);
