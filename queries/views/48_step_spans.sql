-- step_spans: one row per generation step of each run, from its step ranges (tk:step=N
-- phase=prefill|decode, or any range a label_rules row gives a step) on every rank.
--   A rank's step range is timed on the device where the range launched device work: from
--   the first start to the last end of the kernels, memcpys and memsets whose launching
--   call lies in the range on its thread (the NVTX GPU projection; a CPU range ends when
--   the work is enqueued, long before the GPU finishes it). Ranges that launched no device
--   work (CPU-only runs) keep their CPU start and end. Traces of a GPU run's CPU side only
--   (cpu_side_traces) give no step: their ranges end when the work is enqueued.
--   A step starts, for latency, when the last rank of the first pipeline stage enters it
--   (until then the stage cannot run it: ranks that enter early only wait for their TP
--   peers, e.g. start-up skew) and ends when the last rank over all stages leaves it.
--   Ranks without a known stage count as stage 0.
-- Depends on: annotation_ranges, event_launches, events, traces, _rank_roles, _label_names,
--             cpu_side_traces.
--   run_id
--   step          BIGINT   the step number (NULL when the range's value is not a number)
--   phase         VARCHAR  'prefill' | 'decode' | ... of the step's ranges (NULL if none)
--   first_ts_ns   BIGINT   earliest start of the step's ranges over all ranks, ns
--   ts_ns         BIGINT   the step's start as defined above (first stage's last entry), ns
--   end_ns        BIGINT   latest end of the step's ranges over all ranks, ns
CREATE OR REPLACE VIEW step_spans AS
WITH labels AS MATERIALIZED (
    -- the names' step and phase labels, matched once: read twice below
    SELECT name, key, value FROM _label_names WHERE key IN ('step', 'phase')
), cpu_ranges AS MATERIALIZED (
    SELECT t.run_id, a.trace_id, a.event_id, a.pid, a.tid, a.ts_ns, a.end_ns,
           coalesce(rr.pp_rank, 0) AS stage,
           TRY_CAST(s.value AS BIGINT) AS step, p.value AS phase
    FROM annotation_ranges a
    JOIN traces t USING (trace_id)
    LEFT JOIN _rank_roles rr ON rr.run_id = t.run_id AND rr.rank = t.rank
    JOIN labels s ON s.name = a.name AND s.key = 'step'
    LEFT JOIN labels p ON p.name = a.name AND p.key = 'phase'
    WHERE a.trace_id NOT IN (SELECT trace_id FROM cpu_side_traces)
), device AS (
    SELECT c.event_id, c.trace_id, min(d.ts_ns) AS ts_ns, max(d.ts_ns + d.dur_ns) AS end_ns
    FROM cpu_ranges c
    JOIN event_launches l
      ON l.trace_id = c.trace_id AND l.pid IS NOT DISTINCT FROM c.pid AND l.tid = c.tid
     AND c.ts_ns <= l.launch_ts_ns AND l.launch_ts_ns < c.end_ns
    JOIN events d
      ON d.trace_id = l.trace_id AND d.event_id = l.event_id
     AND d.kind IN ('kernel', 'gpu_memcpy', 'gpu_memset')
    GROUP BY c.trace_id, c.event_id
), step_ranges AS (
    SELECT c.run_id, coalesce(d.ts_ns, c.ts_ns) AS ts_ns, coalesce(d.end_ns, c.end_ns) AS end_ns,
           c.stage, c.step, c.phase
    FROM cpu_ranges c
    LEFT JOIN device d ON d.trace_id = c.trace_id AND d.event_id = c.event_id
)
SELECT run_id, step, max(phase) AS phase, min(ts_ns) AS first_ts_ns,
       max(ts_ns) FILTER (WHERE stage = first_stage) AS ts_ns, max(end_ns) AS end_ns
FROM (SELECT *, min(stage) OVER (PARTITION BY run_id) AS first_stage FROM step_ranges)
GROUP BY run_id, step;
