-- step_spans: one row per generation step of each run, from its step ranges (tk:step=N
-- phase=prefill|decode, or any range a label_rules row gives a step) on every rank.
--   A step starts, for latency, when the last rank of the first pipeline stage enters it
--   (until then the stage cannot run it: ranks that enter early only wait for their TP
--   peers, e.g. start-up skew) and ends when the last rank over all stages leaves it.
--   Ranks without a known stage count as stage 0.
-- Depends on: annotation_ranges, traces, _rank_roles, _label_names.
--   run_id
--   step          BIGINT   the step number (NULL when the range's value is not a number)
--   phase         VARCHAR  'prefill' | 'decode' | ... of the step's ranges (NULL if none)
--   first_ts_ns   BIGINT   earliest start of the step's ranges over all ranks, ns
--   ts_ns         BIGINT   the step's start as defined above (first stage's last entry), ns
--   end_ns        BIGINT   latest end of the step's ranges over all ranks, ns
CREATE OR REPLACE VIEW step_spans AS
WITH step_ranges AS (
    SELECT t.run_id, a.ts_ns, a.end_ns, coalesce(rr.pp_rank, 0) AS stage,
           TRY_CAST(s.value AS BIGINT) AS step, p.value AS phase
    FROM annotation_ranges a
    JOIN traces t USING (trace_id)
    LEFT JOIN _rank_roles rr ON rr.run_id = t.run_id AND rr.rank = t.rank
    JOIN _label_names s ON s.name = a.name AND s.key = 'step'
    LEFT JOIN _label_names p ON p.name = a.name AND p.key = 'phase'
)
SELECT run_id, step, max(phase) AS phase, min(ts_ns) AS first_ts_ns,
       max(ts_ns) FILTER (WHERE stage = first_stage) AS ts_ns, max(end_ns) AS end_ns
FROM (SELECT *, min(stage) OVER (PARTITION BY run_id) AS first_stage FROM step_ranges)
GROUP BY run_id, step;
