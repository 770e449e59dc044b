-- run_comparison: one row per run, the runs of a store side by side (tracekit compare,
-- tracekit study): layout and workload from the run's collect manifest (NULL for runs
-- imported without one), measured communication inside the generation steps (phases
-- 'prefill' and 'decode'; the collector's barrier outside them is left out), latency.
-- Depends on: runs, run_comm_by_op, comm_op_phases, overlap_by_phase, latency_by_run.
--   run_id
--   tp, pp, world_size    layout (runs; tp and pp NULL without a manifest)
--   model                 model name (manifest model.name), NULL without a manifest
--   dtype                 element type the model ran in (manifest model.dtype)
--   batch, prompt_len, gen_len   workload (manifest workload), requests and tokens
--   calls                 BIGINT  communication calls inside the steps, all ranks
--   bytes                 BIGINT  their msg_bytes summed over all ranks, bytes
--   max_rank_bytes        BIGINT  the same for the rank that moved the most, bytes
--   outside_calls         BIGINT  calls outside every step range (not counted above)
--   comm_ns               BIGINT  communication time (interval union) inside the steps of
--                         the rank with the most, ns
--   exposed_comm_ns       BIGINT  the same rank's communication not hidden by compute, ns
--   ttft_ns, tpot_ns, e2e_ns     latency from the step ranges (latency_by_run), ns
--   comm_pct              DOUBLE  100 * comm_ns / e2e_ns, percent
--   e2e_exposed_comm_pct  DOUBLE  exposed communication share of e2e (latency_by_run), percent
CREATE OR REPLACE VIEW run_comparison AS
WITH volume AS (
    SELECT run_id, sum(calls)::BIGINT AS calls, sum(bytes)::BIGINT AS bytes
    FROM run_comm_by_op WHERE phase <> 'outside' GROUP BY run_id
), rank_bytes AS (
    SELECT run_id, rank, coalesce(sum(msg_bytes), 0) AS bytes
    FROM comm_op_phases WHERE phase <> 'outside' GROUP BY ALL
), outside AS (
    SELECT run_id, sum(calls)::BIGINT AS outside_calls
    FROM run_comm_by_op WHERE phase = 'outside' GROUP BY run_id
), rank_time AS (
    SELECT run_id, rank, sum(comm_ns) AS comm_ns, sum(exposed_comm_ns) AS exposed_comm_ns
    FROM overlap_by_phase WHERE phase IS NOT NULL GROUP BY ALL
), busiest AS (
    SELECT run_id, max(comm_ns) AS comm_ns, max(exposed_comm_ns) AS exposed_comm_ns
    FROM rank_time GROUP BY run_id
)
SELECT r.run_id, r.tp, r.pp, r.world_size,
       r.manifest->>'$.model.name' AS model,
       r.manifest->>'$.model.dtype' AS dtype,
       TRY_CAST(r.manifest->'$.workload.batch' AS INTEGER) AS batch,
       TRY_CAST(r.manifest->'$.workload.prompt_len' AS INTEGER) AS prompt_len,
       TRY_CAST(r.manifest->'$.workload.gen_len' AS INTEGER) AS gen_len,
       coalesce(v.calls, 0) AS calls, coalesce(v.bytes, 0) AS bytes,
       coalesce((SELECT max(b.bytes) FROM rank_bytes b WHERE b.run_id = r.run_id), 0)::BIGINT
           AS max_rank_bytes,
       coalesce(o.outside_calls, 0) AS outside_calls,
       t.comm_ns::BIGINT AS comm_ns, t.exposed_comm_ns::BIGINT AS exposed_comm_ns,
       l.ttft_ns, l.tpot_ns, l.e2e_ns,
       round(100.0 * t.comm_ns / nullif(l.e2e_ns, 0), 4) AS comm_pct,
       l.e2e_exposed_comm_pct
FROM runs r
LEFT JOIN volume v USING (run_id)
LEFT JOIN outside o USING (run_id)
LEFT JOIN busiest t USING (run_id)
LEFT JOIN latency_by_run l USING (run_id)
ORDER BY bytes, r.run_id;
