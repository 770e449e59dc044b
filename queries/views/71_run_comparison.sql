-- run_comparison: one row per run, the runs of a store side by side (tracekit compare,
-- tracekit study): layout and workload from the run's collect manifest (NULL for runs
-- imported without one), measured communication, latency. A run with tk:step ranges is
-- measured inside its generation steps (phases 'prefill' and 'decode'; a barrier outside
-- them is left out); a run without them (traces from elsewhere) over its whole trace.
-- Depends on: runs, traces, comm_op_phases, _rank_roles, _lane_islands, overlap_by_rank,
-- latency_by_run, cpu_side_traces.
--   run_id
--   tp, pp, world_size    layout (runs; tp and pp NULL without a manifest)
--   model                 model name (manifest model.name), NULL without a manifest
--   dtype                 element type the model ran in (manifest model.dtype)
--   batch, prompt_len, gen_len   workload (manifest workload), requests and tokens
--   backend               communication backend (manifest parallel.backend: nccl, gloo)
--   hosts, devices        VARCHAR[]  distinct hosts and devices of the ranks (manifest ranks)
--   torch_version, cuda_version, nccl_version, python_version   manifest versions
--   scope                 'steps' | 'whole trace': what the measured columns cover;
--                         'CPU side only': every trace is a GPU run's CPU side
--                         (cpu_side_traces), so nothing is measured
--   calls                 BIGINT  communication calls in scope, all ranks (NULL for a run of
--                         the CPU side only)
--   bytes                 BIGINT  their msg_bytes summed over all ranks, bytes (NULL where
--                         no call has a message size)
--   max_rank_bytes        BIGINT  the same for the rank that moved the most, bytes
--   tp_lane_bytes         BIGINT  the same for one TP lane: the ranks with the run's highest
--                         tp_rank, one per pipeline stage (tp_rank t-1 of every stage, the
--                         model's lane; every rank when tp = 1), bytes (NULL where no rank's
--                         tp_rank is known)
--   outside_calls         BIGINT  calls outside the scope (outside every step range)
--   comm_ns               BIGINT  communication time (interval union) of the busiest lane
--                         inside the end-to-end window (whole trace without steps), ns
--   exposed_comm_ns       BIGINT  exposed communication of the most exposed rank in that
--                         window (latency_by_run; without steps overlap_by_rank), ns
--   ttft_ns, tpot_ns, e2e_ns     latency from the step ranges (latency_by_run), ns
--   comm_pct              DOUBLE  100 * comm_ns / e2e_ns, percent
--   e2e_exposed_comm_pct  DOUBLE  exposed communication share of e2e (latency_by_run), percent
CREATE OR REPLACE VIEW run_comparison AS
WITH latency AS (
    SELECT * FROM latency_by_run
), stepped AS (
    -- the runs with step ranges: latency_by_run has a row for each
    SELECT run_id FROM latency
), cpu_side AS (
    -- runs all of whose traces hold a GPU run's CPU side only (cpu_side_traces)
    SELECT t.run_id FROM traces t LEFT JOIN cpu_side_traces c USING (trace_id)
    GROUP BY t.run_id HAVING count(c.trace_id) = count(*)
), ops AS (
    SELECT c.run_id, c.rank, c.msg_bytes,
           c.phase <> 'outside' OR s.run_id IS NULL AS in_scope
    FROM comm_op_phases c LEFT JOIN stepped s USING (run_id)
), volume AS (
    SELECT run_id, count(*) FILTER (WHERE in_scope) AS calls,
           sum(msg_bytes) FILTER (WHERE in_scope) AS bytes,
           count(*) FILTER (WHERE NOT in_scope) AS outside_calls
    FROM ops GROUP BY run_id
), lane_ranks AS (
    -- one TP lane: the ranks of the run's highest tp_rank, one per stage
    SELECT run_id, rank, tp_rank = max(tp_rank) OVER (PARTITION BY run_id) AS in_lane
    FROM _rank_roles
), rank_bytes AS (
    SELECT p.run_id, max(p.bytes) AS max_rank_bytes,
           sum(p.bytes) FILTER (WHERE l.in_lane) AS tp_lane_bytes
    FROM (SELECT run_id, rank, sum(msg_bytes) AS bytes
          FROM ops WHERE in_scope GROUP BY ALL) p
    LEFT JOIN lane_ranks l ON l.run_id = p.run_id AND l.rank = p.rank
    GROUP BY p.run_id
), e2e_window AS (
    -- a run with steps: its end-to-end window; without: the whole trace
    SELECT r.run_id, coalesce(l.first_ts_ns, -9223372036854775807) AS lo,
           coalesce(l.last_end_ns, 9223372036854775807) AS hi
    FROM runs r LEFT JOIN latency l USING (run_id)
), lane_time AS (
    SELECT w.run_id, t.trace_id, x.device,
           sum(least(x.e_ns, w.hi) - greatest(x.s_ns, w.lo)) AS comm_ns
    FROM e2e_window w
    JOIN traces t ON t.run_id = w.run_id
    JOIN _lane_islands x ON x.trace_id = t.trace_id AND x.cls = 'comm'
                        AND x.s_ns < w.hi AND w.lo < x.e_ns
    GROUP BY ALL
), whole_exposed AS (
    SELECT run_id, max(exposed_comm_ns) AS exposed_comm_ns FROM overlap_by_rank GROUP BY run_id
), busiest AS (
    SELECT l.run_id, max(l.comm_ns) AS comm_ns,
           coalesce(any_value(lat.e2e_exposed_comm_ns), any_value(e.exposed_comm_ns))
               AS exposed_comm_ns
    FROM lane_time l
    LEFT JOIN latency lat USING (run_id)
    LEFT JOIN whole_exposed e USING (run_id)
    GROUP BY l.run_id
)
SELECT r.run_id, r.tp, r.pp, r.world_size,
       r.manifest->>'$.model.name' AS model,
       r.manifest->>'$.model.dtype' AS dtype,
       TRY_CAST(r.manifest->'$.workload.batch' AS INTEGER) AS batch,
       TRY_CAST(r.manifest->'$.workload.prompt_len' AS INTEGER) AS prompt_len,
       TRY_CAST(r.manifest->'$.workload.gen_len' AS INTEGER) AS gen_len,
       r.manifest->>'$.parallel.backend' AS backend,
       list_sort(list_distinct(r.manifest->>'$.ranks[*].host')) AS hosts,
       list_sort(list_distinct(r.manifest->>'$.ranks[*].device')) AS devices,
       r.manifest->>'$.versions.torch' AS torch_version,
       r.manifest->>'$.versions.cuda' AS cuda_version,
       r.manifest->>'$.versions.nccl' AS nccl_version,
       r.manifest->>'$.versions.python' AS python_version,
       CASE WHEN c.run_id IS NOT NULL THEN 'CPU side only'
            WHEN s.run_id IS NULL THEN 'whole trace' ELSE 'steps' END AS scope,
       CASE WHEN c.run_id IS NULL THEN coalesce(v.calls, 0) END::BIGINT AS calls,
       v.bytes::BIGINT AS bytes,
       b.max_rank_bytes::BIGINT AS max_rank_bytes, b.tp_lane_bytes::BIGINT AS tp_lane_bytes,
       CASE WHEN c.run_id IS NULL THEN coalesce(v.outside_calls, 0) END::BIGINT AS outside_calls,
       t.comm_ns::BIGINT AS comm_ns, t.exposed_comm_ns::BIGINT AS exposed_comm_ns,
       l.ttft_ns, l.tpot_ns, l.e2e_ns,
       round(100.0 * t.comm_ns / nullif(l.e2e_ns, 0), 4) AS comm_pct,
       l.e2e_exposed_comm_pct
FROM runs r
LEFT JOIN stepped s USING (run_id)
LEFT JOIN cpu_side c USING (run_id)
LEFT JOIN volume v USING (run_id)
LEFT JOIN rank_bytes b USING (run_id)
LEFT JOIN busiest t USING (run_id)
LEFT JOIN latency l USING (run_id)
ORDER BY bytes NULLS LAST, r.run_id;
