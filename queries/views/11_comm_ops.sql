-- comm_ops: one row per communication op on its device/stream (GPU) or thread (CPU),
-- i.e. every event that `comm_rules` classifies as communication.
-- Depends on: events, traces, runs, _comm_names, comm_op_aliases, dtype_sizes,
--             _graph_capture, graph_launch.
-- (The NVTX payload link repeats event_launches/event_annotations inline, since views are
-- created in file order and those come later.)
--   run_id, rank, trace_id, event_id   where the op comes from
--   kind         events.kind of the op ('kernel' on GPUs, 'user_annotation' for gloo)
--   name         event name
--   library      nccl | rccl | vllm_custom_ar | torch_symm_mem | gloo | ...
--   rule_id      comm_rules row that classified it
--   op           all_reduce | all_gather | reduce_scatter | broadcast | reduce | gather |
--                scatter | all_to_all | send | recv | send_recv | barrier
--                (the `Collective name` arg wins over the kernel name: it tells send from recv).
--                A kernel whose name says only send_recv (NCCL runs all-to-all, scatter,
--                gather, send and recv as SendRecv kernels) takes the op of the innermost
--                NCCL range naming one of these five that encloses its launching CUDA
--                call on the same thread: torch's `nccl:<op>` (e.g. nccl:all_to_all,
--                nccl:send) or NCCL's own NVTX range `nccl<Op>` (ncclSend, ncclRecv)
--   algorithm    RING | TREE | NVLS | ... (from the kernel name), or NULL
--   protocol     LL | LL128 | SIMPLE (the kernel name's; see docs), or NULL
--   reduction    Sum | Max | ... or NULL
--   dtype        element type (arg, linked record_param_comms, or kernel name)
--   device       GPU index (NULL on CPU)
--   stream       CUDA stream (NULL on CPU)
--   pid, tid     CPU thread (NULL on GPU)
--   stream_lane  the stream or thread the op ran on: 'gpu<device>:s<stream>' or 'cpu:<tid>'
--                (the overlap views' `lane` is the lane group: 'gpu<device>' or 'cpu')
--   ts_ns, dur_ns, end_ns   ns on the run timeline
--   in_nelems, out_nelems   BIGINT  elements in/out (arg, linked record_param_comms, or gloo
--                Input Dims)
--   elem_bytes   bytes per element of dtype
--   in_bytes, out_bytes     BIGINT  in_nelems / out_nelems x elem_bytes
--   msg_bytes    BIGINT  message size by the nccl-tests convention (collective_instances'
--                type too): all_gather -> output bytes
--                (in_bytes x group_size where only the input is known), everything else ->
--                input bytes; for nsys kernels without args, the message size decoded from
--                the NVTX payload (events.bytes) of the innermost range carrying one that
--                encloses the kernel's launching CUDA call on the same thread (NCCL's
--                ncclAllReduce, ...); NULL where the trace does not say
--   group_size, pg_name, pg_desc, pg_ranks   process group (args or linked op). gloo traces
--                do not record the group: for runs with a collect manifest, gloo collectives
--                (not send/recv/barrier) are in the rank's tensor-parallel group, so group_size is
--                runs.tp (the collector issues no other collectives); NULL otherwise
--   seq          sequence number where the trace has one
--   call_index   0-based order of the op among this trace's ops of the same process group
--                (pg_name; NULL groups together), by start time
--   graph        BOOLEAN  the kernel ran in a CUDA graph replay (graph_launch): its NCCL
--                range and message size are those around its graph node's creation at
--                capture where the trace holds it (_graph_capture), else none (a graph's
--                kernels have no record_param_comms)
CREATE OR REPLACE VIEW comm_ops AS
WITH classified AS (
    SELECT e.*, c.rule_id, c.library, c.raw_op, c.algorithm, c.protocol, c.reduction,
           c.dtype AS name_dtype
    FROM events e JOIN _comm_names c USING (kind, name)
), linked AS (
    -- NCCL: the CPU op `record_param_comms` that launched the kernel shares its External id
    SELECT cl.*, p.coll_name AS p_coll, p.in_nelems AS p_in, p.out_nelems AS p_out,
           p.dtype AS p_dtype, p.group_size AS p_group_size, p.pg_name AS p_pg_name,
           p.pg_desc AS p_pg_desc, p.pg_ranks AS p_pg_ranks, p.seq AS p_seq
    FROM classified cl
    LEFT JOIN events p
      ON p.trace_id = cl.trace_id AND p.external_id = cl.external_id
     AND p.kind = 'cpu_op' AND p.name = 'record_param_comms' AND cl.kind = 'kernel'
), aliases AS (
    SELECT DISTINCT lower(alias) AS alias, op FROM comm_op_aliases
), launched AS (
    -- each kernel's launching CUDA call, and the CPU point whose enclosing ranges describe
    -- the kernel's code: that call, or for a graph kernel whose capture the trace holds,
    -- the creation of its graph node (_graph_capture)
    SELECT k.trace_id, k.event_id, graph_launch(r.name, k.args) AS graph,
           coalesce(g.pid, r.pid) AS pid, coalesce(g.tid, r.tid) AS tid,
           coalesce(g.capture_ts_ns, r.ts_ns) AS ts_ns
    FROM classified k
    JOIN events r
      ON r.trace_id = k.trace_id AND r.correlation = k.correlation
     AND r.kind IN ('cuda_runtime', 'cuda_driver')
    LEFT JOIN _graph_capture g ON g.trace_id = k.trace_id AND g.event_id = k.event_id
    WHERE k.kind = 'kernel' AND k.correlation IS NOT NULL
), payload AS (
    -- ranges enclosing that point: the message size of an NVTX payload (nsys) and the op
    -- of an NCCL range (nccl:<op> of torch, nccl<Op> of NCCL's NVTX)
    SELECT l.trace_id, l.event_id,
           arg_max(a.bytes, a.ts_ns) FILTER (WHERE a.bytes IS NOT NULL) AS nvtx_bytes,
           arg_max(o.op, a.ts_ns) FILTER (WHERE o.op IS NOT NULL) AS range_op
    FROM launched l
    JOIN events a
      ON a.trace_id = l.trace_id AND a.pid IS NOT DISTINCT FROM l.pid AND a.tid = l.tid
     AND a.kind = 'user_annotation' AND (a.bytes IS NOT NULL OR starts_with(a.name, 'nccl'))
     AND a.ts_ns <= l.ts_ns AND l.ts_ns < a.ts_ns + a.dur_ns
    LEFT JOIN aliases o
      ON o.alias = lower(CASE WHEN starts_with(a.name, 'nccl:') THEN a.name[6:]
                              WHEN starts_with(a.name, 'nccl') THEN a.name[5:] END)
     AND o.op IN ('all_to_all', 'scatter', 'gather', 'send', 'recv')
    GROUP BY l.trace_id, l.event_id
), resolved AS (
    SELECT l.*,
           coalesce(l.coll_name, l.p_coll, l.raw_op) AS op_spelling,
           coalesce(l.dtype, l.p_dtype, l.name_dtype) AS dtype_r,
           coalesce(l.in_nelems, l.p_in,
                    CASE WHEN l.library = 'gloo' THEN
                        TRY_CAST(list_aggregate(TRY_CAST(l.input_dims->0 AS BIGINT[]), 'product')
                                 AS BIGINT)
                    END) AS in_n,
           coalesce(l.out_nelems, l.p_out) AS out_n,
           p.nvtx_bytes, p.range_op, coalesce(g.graph, false) AS graph
    FROM linked l
    LEFT JOIN payload p USING (trace_id, event_id)
    LEFT JOIN launched g USING (trace_id, event_id)
), typed AS (
    SELECT r.* EXCLUDE (range_op),
           CASE WHEN coalesce(a.op, r.op_spelling) = 'send_recv'
                THEN coalesce(r.range_op, 'send_recv')
                ELSE coalesce(a.op, lower(regexp_replace(r.op_spelling, '([a-z])([A-Z])',
                                                         '\1_\2', 'g'))) END AS op_r,
           s.bytes AS elem_bytes
    FROM resolved r
    LEFT JOIN aliases a ON a.alias = lower(r.op_spelling)
    LEFT JOIN (SELECT lower(dtype) AS dtype, max(bytes) AS bytes FROM dtype_sizes GROUP BY 1) s
           ON s.dtype = lower(r.dtype_r)
)
SELECT t.run_id, t.rank, x.trace_id, x.event_id, x.kind, x.name, x.library, x.rule_id,
       x.op_r AS op, x.algorithm, x.protocol, x.reduction, x.dtype_r AS dtype,
       x.device, x.stream, x.pid, x.tid,
       CASE WHEN x.device IS NOT NULL THEN 'gpu' || x.device || ':s' || x.stream
            ELSE 'cpu:' || x.tid END AS stream_lane,
       x.ts_ns, x.dur_ns, x.ts_ns + x.dur_ns AS end_ns,
       x.in_n AS in_nelems, x.out_n AS out_nelems, x.elem_bytes,
       x.in_n * x.elem_bytes AS in_bytes, x.out_n * x.elem_bytes AS out_bytes,
       coalesce(CASE WHEN x.op_r = 'all_gather'
                     THEN coalesce(x.out_n, x.in_n * x.group_n) * x.elem_bytes
                     ELSE x.in_n * x.elem_bytes END, x.nvtx_bytes) AS msg_bytes,
       x.group_n AS group_size,
       coalesce(x.pg_name, x.p_pg_name) AS pg_name,
       coalesce(x.pg_desc, x.p_pg_desc) AS pg_desc,
       coalesce(x.pg_ranks, x.p_pg_ranks) AS pg_ranks,
       coalesce(x.seq, x.p_seq) AS seq,
       row_number() OVER (PARTITION BY x.trace_id, coalesce(x.pg_name, x.p_pg_name)
                          ORDER BY x.ts_ns, x.event_id) - 1 AS call_index,
       x.graph
FROM (
    SELECT y.*, coalesce(y.group_size, y.p_group_size,
                         CASE WHEN y.library = 'gloo' AND y.op_r NOT IN ('send', 'recv', 'barrier')
                              THEN (SELECT r.tp FROM traces tr JOIN runs r USING (run_id)
                                    WHERE tr.trace_id = y.trace_id) END) AS group_n
    FROM typed y
) x JOIN traces t USING (trace_id);
