-- comm_summary: communication per rank, op and message-size bucket, with algorithm and bus
-- bandwidth by the nccl-tests convention:
--   algbw = bytes / time;  busbw = algbw x busbw_factor(op, n), n = group size:
--   all_reduce 2(n-1)/n; all_gather, reduce_scatter, all_to_all (n-1)/n; gather n-1 (per
--   byte of one rank's contribution); everything else 1.
-- Buckets are powers of two: [2^k, 2^(k+1)) bytes of msg_bytes; 'unknown' where the trace
-- gives no size.
-- Private helper defined here:
--   _comm_groups: every comm_ops row with the process group used to match it across ranks
--     op          comm_ops.op; a send_recv kernel (no NCCL range named its op) takes its
--                 direction from the innermost block range (label_rules key 'block', e.g.
--                 tracekit collect's tk:block) around its launching CUDA call: pp_send ->
--                 send, pp_recv -> recv, sample -> send on the last stage and recv on the
--                 first, lm_head -> gather (the logits gather); without one, from NCCL's
--                 NVTX group it was launched in (nsys: the kernel of grouped ncclSend/
--                 ncclRecv calls is launched in ncclGroupEnd, after their ranges ended):
--                 send or recv when all the group's calls are ncclSend or all ncclRecv
--     pg          where the run's layout is known (runs.tp, else the rank_layout rows a
--                 user added; _rank_roles), every send/recv -> the pipeline pair
--                 'p2p:<src>-><dst>' (src stage s, tp rank t sends to stage s+1, same t,
--                 wrapping around), whatever group the trace names; otherwise the trace's
--                 pg_name where it has one; otherwise barrier -> 'world', other
--                 collectives -> the TP group 'tp<pp_rank>' when tp is known, else 'world';
--                 except a CUDA graph's kernel (comm_ops.graph: no record_param_comms)
--                 where tp is not known: NULL, not matched across ranks (its group is
--                 unknown; 'world' would join different groups' collectives)
--     group_size  pg size: the trace's Group size / Process Group Ranks, 2 for p2p pairs,
--                 the TP degree for TP groups, else the run's (or traces') world size
--     peer_rank   the other end of a derived p2p pair (NULL otherwise)
--     match_op    op used for matching: 'send_recv' for the two ends of a derived pair
--     msg_bytes   comm_ops.msg_bytes, else for a SendRecv kernel of an NCCL group of one
--                 ncclSend/ncclRecv call that call's message size (its NVTX payload), else
--                 for an all_gather that only states its input, in_bytes x group_size
--     call_k      the op's instance number: for a p2p pair the 0-based order among the
--                 trace's ops of the same (pg, op) by start time (the k-th send src->dst
--                 pairs with the k-th recv dst<-src); else seq where the trace has one,
--                 else that order
-- Depends on: comm_ops, events, label_rules, _rank_roles, rank_layout, runs, traces,
--             _graph_capture, rank_at, busbw_factor.
--   run_id, rank      the rank
--   op                comm_ops.op
--   size_bucket       '[8.0 KiB, 16.0 KiB)' style label, or 'unknown'
--   bucket_lo_bytes   lower bound of the bucket, bytes (NULL for 'unknown')
--   group_size        process group size (the largest seen in the bucket)
--   calls             number of ops
--   total_ns, mean_ns, min_ns, max_ns   op durations, ns
--   total_bytes       sum of msg_bytes, bytes
--   algbw_gbps        total_bytes / total_ns (bytes per ns = GB/s)
--   busbw_gbps        algbw_gbps x busbw_factor(op, group_size)
CREATE OR REPLACE VIEW _comm_groups AS
WITH world AS (
    SELECT t.run_id, coalesce(max(r.world_size), max(t.world_size), count(DISTINCT t.rank))
               AS world_size
    FROM traces t LEFT JOIN runs r USING (run_id) GROUP BY t.run_id
), ops AS MATERIALIZED (
    -- comm_ops, computed once: read twice below
    SELECT * FROM comm_ops
), launches AS MATERIALIZED (
    -- the launching CUDA call of each send_recv kernel (of a graph kernel whose capture
    -- the trace holds: the creation of its graph node, _graph_capture)
    SELECT c.trace_id, c.event_id, coalesce(g.pid, r.pid) AS pid, coalesce(g.tid, r.tid) AS tid,
           coalesce(g.capture_ts_ns, r.ts_ns) AS ts_ns
    FROM ops c
    JOIN events k ON k.trace_id = c.trace_id AND k.event_id = c.event_id
    JOIN events r
      ON r.trace_id = k.trace_id AND r.correlation = k.correlation
     AND r.kind IN ('cuda_runtime', 'cuda_driver')
    LEFT JOIN _graph_capture g ON g.trace_id = c.trace_id AND g.event_id = c.event_id
    WHERE c.op = 'send_recv' AND c.kind = 'kernel'
), enclosing AS MATERIALIZED (
    SELECT l.trace_id, l.event_id, a.event_id AS range_id, a.name, a.ts_ns
    FROM launches l
    JOIN events a
      ON a.trace_id = l.trace_id AND a.pid IS NOT DISTINCT FROM l.pid AND a.tid = l.tid
     AND a.kind = 'user_annotation' AND a.ts_ns <= l.ts_ns AND l.ts_ns < a.ts_ns + a.dur_ns
), generic AS (
    -- the innermost block range around the launch (label_rules key 'block')
    SELECT e.trace_id, e.event_id,
           arg_max(regexp_extract(e.name, r.pattern, 1), (e.ts_ns, -r.priority)) AS block
    FROM enclosing e
    JOIN label_rules r
      ON r.key = 'block' AND CASE WHEN r.hint IS NULL OR contains(e.name, r.hint)
                                  THEN regexp_matches(e.name, r.pattern) ELSE false END
    GROUP BY e.trace_id, e.event_id
), nccl_group_ranges AS (
    -- NCCL's NVTX group ranges and point-to-point calls, numbered by the group they are in:
    -- the count of ncclGroupStart ranges on the thread so far
    SELECT trace_id, event_id, pid, tid, name, bytes,
           sum(CASE WHEN name = 'ncclGroupStart' THEN 1 ELSE 0 END) OVER (
               PARTITION BY trace_id, pid, tid ORDER BY ts_ns, event_id
               ROWS UNBOUNDED PRECEDING) AS group_no
    FROM events
    WHERE kind = 'user_annotation'
      AND name IN ('ncclGroupStart', 'ncclSend', 'ncclRecv', 'ncclGroupEnd')
), p2p_groups AS (
    -- per ncclGroupEnd: the direction all its group's ncclSend/ncclRecv calls share (NULL
    -- when they differ) and the message size of the group's call when it has only one
    SELECT g.trace_id, g.event_id AS range_id,
           CASE WHEN min(c.name) = max(c.name) THEN lower(substr(min(c.name), 5)) END
               AS group_op,
           CASE WHEN count(*) = 1 THEN max(c.bytes) END AS group_bytes
    FROM nccl_group_ranges g
    JOIN nccl_group_ranges c
      ON c.trace_id = g.trace_id AND c.pid IS NOT DISTINCT FROM g.pid AND c.tid = g.tid
     AND c.group_no = g.group_no AND c.name IN ('ncclSend', 'ncclRecv')
    WHERE g.name = 'ncclGroupEnd'
    GROUP BY g.trace_id, g.event_id
), launch_groups AS (
    -- a SendRecv kernel launched in ncclGroupEnd (NCCL runs grouped calls at the group's
    -- end, after their own ranges ended): its innermost ncclGroupEnd's group
    SELECT e.trace_id, e.event_id, arg_max(p.group_op, e.ts_ns) AS group_op,
           arg_max(p.group_bytes, e.ts_ns) AS group_bytes
    FROM enclosing e
    JOIN p2p_groups p ON p.trace_id = e.trace_id AND p.range_id = e.range_id
    GROUP BY e.trace_id, e.event_id
), base AS (
    SELECT c.* EXCLUDE (op, msg_bytes), coalesce(c.msg_bytes, p.group_bytes) AS msg_bytes,
           rr.tp_rank, rr.pp_rank, coalesce(r.tp, l.tp) AS tp, w.world_size,
           coalesce(r.pp, l.pp, CASE WHEN coalesce(r.tp, l.tp) > 0
                                     THEN w.world_size // coalesce(r.tp, l.tp) END) AS pp,
           g.block AS generic_block, c.op AS listed_op, p.group_op
    FROM ops c
    LEFT JOIN _rank_roles rr ON rr.run_id = c.run_id AND rr.rank = c.rank
    LEFT JOIN runs r ON r.run_id = c.run_id
    LEFT JOIN world w ON w.run_id = c.run_id
    LEFT JOIN (SELECT run_id, max(tp_rank) + 1 AS tp, max(pp_rank) + 1 AS pp
               FROM rank_layout GROUP BY run_id) l ON l.run_id = c.run_id
    LEFT JOIN generic g ON g.trace_id = c.trace_id AND g.event_id = c.event_id
    LEFT JOIN launch_groups p ON p.trace_id = c.trace_id AND p.event_id = c.event_id
), directed AS (
    SELECT * EXCLUDE (generic_block, listed_op, group_op),
           CASE WHEN listed_op <> 'send_recv' THEN listed_op
                WHEN generic_block = 'pp_send' THEN 'send'
                WHEN generic_block = 'pp_recv' THEN 'recv'
                WHEN generic_block = 'lm_head' THEN 'gather'
                WHEN generic_block = 'sample' AND pp > 1 AND pp_rank = pp - 1 THEN 'send'
                WHEN generic_block = 'sample' AND pp > 1 AND pp_rank = 0 THEN 'recv'
                ELSE coalesce(group_op, listed_op) END AS op
    FROM base
), peers AS (
    SELECT *,
           CASE WHEN tp > 0 AND op = 'send' THEN rank_at((pp_rank + 1) % pp, tp_rank, tp)
                WHEN tp > 0 AND op = 'recv'
                THEN rank_at((pp_rank + pp - 1) % pp, tp_rank, tp) END AS peer_rank
    FROM directed
), grouped AS (
    SELECT *,
           CASE WHEN peer_rank IS NOT NULL AND op = 'send' THEN 'p2p:' || rank || '->' || peer_rank
                WHEN peer_rank IS NOT NULL THEN 'p2p:' || peer_rank || '->' || rank
                WHEN pg_name IS NOT NULL THEN pg_name
                WHEN graph AND tp IS NULL THEN NULL
                WHEN op = 'barrier' OR tp IS NULL THEN 'world'
                ELSE 'tp' || pp_rank END AS pg,
           CASE WHEN peer_rank IS NOT NULL THEN 2
                WHEN pg_name IS NOT NULL
                THEN coalesce(group_size, len(TRY_CAST(pg_ranks AS INTEGER[])), world_size)
                WHEN graph AND tp IS NULL THEN NULL
                WHEN op = 'barrier' OR tp IS NULL THEN world_size
                ELSE tp END AS pg_size,
           CASE WHEN peer_rank IS NOT NULL THEN 'send_recv' ELSE op END AS match_op
    FROM peers
)
SELECT * EXCLUDE (group_size, msg_bytes, pg_size),
       pg_size AS group_size,
       coalesce(msg_bytes, CASE WHEN op = 'all_gather' THEN in_bytes * pg_size END)::BIGINT
           AS msg_bytes,
       coalesce(CASE WHEN peer_rank IS NULL THEN seq END,
                row_number() OVER (PARTITION BY trace_id, pg, op
                                   ORDER BY ts_ns, event_id) - 1) AS call_k
FROM grouped;

CREATE OR REPLACE VIEW comm_summary AS
WITH sized AS (
    SELECT *,
           CASE WHEN msg_bytes > 0 THEN (2::BIGINT ** floor(log2(msg_bytes)))::BIGINT END AS lo
    FROM _comm_groups
), agg AS (
    SELECT run_id, rank, op, lo AS bucket_lo_bytes,
           max(group_size) AS group_size,
           count(*) AS calls,
           sum(dur_ns)::BIGINT AS total_ns,
           round(avg(dur_ns), 1) AS mean_ns,
           min(dur_ns) AS min_ns,
           max(dur_ns) AS max_ns,
           sum(msg_bytes)::BIGINT AS total_bytes
    FROM sized GROUP BY run_id, rank, op, lo
)
SELECT run_id, rank, op,
       CASE WHEN bucket_lo_bytes IS NULL THEN 'unknown'
            ELSE '[' || format_bytes(bucket_lo_bytes) || ', '
                 || format_bytes(2 * bucket_lo_bytes) || ')' END AS size_bucket,
       bucket_lo_bytes, group_size, calls, total_ns, mean_ns, min_ns, max_ns, total_bytes,
       round(total_bytes / nullif(total_ns, 0), 4) AS algbw_gbps,
       round(total_bytes / nullif(total_ns, 0)
             * busbw_factor(op, group_size), 4) AS busbw_gbps
FROM agg
ORDER BY run_id, rank, op, bucket_lo_bytes NULLS LAST;
