-- run_comm_by_op: each run's measured communication per collective type and generation
-- phase, summed over its ranks (tracekit compare, tracekit study): what the model's
-- prediction for the run's layout is set beside.
-- Depends on: comm_op_phases.
--   run_id
--   op                    comm_ops.op (all_reduce, all_gather, gather, broadcast, send, recv, ...)
--   phase                 'prefill' | 'decode' | 'outside' (outside every step range: the
--                         collector's barrier before the measured pass)
--   calls                 BIGINT  communication calls, all ranks
--   bytes                 BIGINT  sum of msg_bytes (nccl-tests message size), all ranks, bytes
--   max_rank_bytes        BIGINT  the same for the rank that moved the most, bytes
--   comm_ns               BIGINT  sum of the calls' durations, all ranks, ns
CREATE OR REPLACE VIEW run_comm_by_op AS
WITH per_rank AS (
    SELECT run_id, op, phase, rank, count(*) AS calls,
           coalesce(sum(msg_bytes), 0) AS bytes, sum(dur_ns) AS comm_ns
    FROM comm_op_phases
    GROUP BY ALL
)
SELECT run_id, op, phase, sum(calls)::BIGINT AS calls, sum(bytes)::BIGINT AS bytes,
       max(bytes)::BIGINT AS max_rank_bytes, sum(comm_ns)::BIGINT AS comm_ns
FROM per_rank
GROUP BY ALL
ORDER BY run_id, op, phase;
