-- event_labels: the labels (step, phase, pipeline stage, layer, block) of every device-side
-- event, communication op and CPU compute op, read from the annotation ranges enclosing the
-- CPU call that launched it (kernels/memcpy/memset: the CUDA call with the same correlation
-- id; gloo ops: their c10d launch op; CPU compute ops: themselves). The same projection as
-- `event_annotations`, extended to the CPU compute ops that overlap is measured on.
-- Range names become labels through `label_rules`; per key the innermost range wins, then
-- the lowest rule priority. The stage falls back to the rank's place in the layout
-- (`_rank_roles`) when no range names it.
-- Private helpers defined here:
--   _rank_roles(run_id, rank, tp_rank, pp_rank, role_source): rank_layout (collect manifest
--       or user rows), else rank // runs.tp and rank % runs.tp where the run knows tp.
--   _label_names(name, key, value, priority): each distinct annotation name x matching rule.
--   _label_probes(trace_id, event_id, kind, pid, tid, probe_ts_ns): what is labelled and the
--       CPU time point whose enclosing ranges label it.
-- Depends on: events, traces, runs, rank_layout, label_rules, event_launches,
--             annotation_ranges, _lane_intervals.
--   run_id, rank, trace_id, event_id   the labelled event
--   kind          events.kind of the event ('kernel', 'gpu_memcpy', 'gpu_memset',
--                 'user_annotation' for gloo ops, 'cpu_op' for CPU compute)
--   step          BIGINT   generation step (tk:step=N), NULL when no range names it
--   phase         VARCHAR  'prefill' | 'decode' | ... (tk:phase=...)
--   stage         INTEGER  pipeline stage: a range's tk:stage=N, else the rank's pp_rank
--   layer         INTEGER  transformer layer (tk:layer=N, model.layers.N, nn.Module ..._N)
--   block         VARCHAR  attention | mlp | embedding | lm_head | pp_send | pp_recv | sample ...
--   stage_source  VARCHAR  'annotation' | 'layout' | NULL
--   tp_rank, pp_rank  INTEGER  the rank's place in the layout (NULL when unknown)
CREATE OR REPLACE VIEW _rank_roles AS
SELECT t.run_id, t.rank,
       coalesce(l.tp_rank, CASE WHEN r.tp > 0 THEN t.rank % r.tp END) AS tp_rank,
       coalesce(l.pp_rank, CASE WHEN r.tp > 0 THEN t.rank // r.tp END) AS pp_rank,
       CASE WHEN l.rank IS NOT NULL THEN 'rank_layout'
            WHEN r.tp > 0 THEN 'runs.tp' END AS role_source
FROM (SELECT DISTINCT run_id, rank FROM traces) t
LEFT JOIN rank_layout l USING (run_id, rank)
LEFT JOIN runs r USING (run_id);

CREATE OR REPLACE VIEW _label_names AS
WITH names AS (
    SELECT DISTINCT name FROM events
    WHERE dur_ns > 0 AND (kind = 'user_annotation'
          OR (kind = 'python_function' AND starts_with(name, 'nn.Module: ')))
)
SELECT n.name, r.key, regexp_extract(n.name, r.pattern, 1) AS value, r.priority
FROM names n JOIN label_rules r ON regexp_matches(n.name, r.pattern);

CREATE OR REPLACE VIEW _label_probes AS
SELECT l.trace_id, l.event_id, e.kind, l.pid, l.tid, l.launch_ts_ns AS probe_ts_ns
FROM event_launches l JOIN events e USING (trace_id, event_id)
UNION ALL
SELECT e.trace_id, e.event_id, e.kind, e.pid, e.tid, e.ts_ns
FROM _lane_intervals i JOIN events e USING (trace_id, event_id)
WHERE i.cls = 'compute' AND i.device IS NULL;

CREATE OR REPLACE VIEW event_labels AS
WITH labelled_ranges AS (
    SELECT a.trace_id, a.pid, a.tid, a.depth, a.ts_ns, a.end_ns, n.key, n.value, n.priority
    FROM annotation_ranges a JOIN _label_names n USING (name)
), depths AS (
    SELECT DISTINCT trace_id, pid, tid, depth FROM labelled_ranges
), probe_depths AS (
    SELECT p.*, d.depth
    FROM _label_probes p
    JOIN depths d ON d.trace_id = p.trace_id AND d.pid IS NOT DISTINCT FROM p.pid
                 AND d.tid = p.tid
), enclosing AS (
    SELECT DISTINCT p.trace_id, p.event_id, a.depth, a.ts_ns, a.end_ns
    FROM probe_depths p
    ASOF JOIN (SELECT DISTINCT trace_id, pid, tid, depth, ts_ns, end_ns FROM labelled_ranges) a
      ON a.trace_id = p.trace_id AND a.pid IS NOT DISTINCT FROM p.pid AND a.tid = p.tid
     AND a.depth = p.depth AND a.ts_ns <= p.probe_ts_ns
    WHERE p.probe_ts_ns < a.end_ns
), values AS (
    SELECT x.trace_id, x.event_id, r.key, r.value,
           row_number() OVER (PARTITION BY x.trace_id, x.event_id, r.key
                              ORDER BY x.depth DESC, r.priority) AS pick
    FROM enclosing x
    JOIN labelled_ranges r
      ON r.trace_id = x.trace_id AND r.depth = x.depth AND r.ts_ns = x.ts_ns
     AND r.end_ns = x.end_ns
    JOIN (SELECT DISTINCT trace_id, event_id, pid, tid FROM _label_probes) p
      ON p.trace_id = x.trace_id AND p.event_id = x.event_id
     AND r.pid IS NOT DISTINCT FROM p.pid AND r.tid = p.tid
), wide AS (
    SELECT trace_id, event_id,
           TRY_CAST(max(value) FILTER (WHERE key = 'step') AS BIGINT) AS step,
           max(value) FILTER (WHERE key = 'phase') AS phase,
           TRY_CAST(max(value) FILTER (WHERE key = 'stage') AS INTEGER) AS stage,
           TRY_CAST(max(value) FILTER (WHERE key = 'layer') AS INTEGER) AS layer,
           max(value) FILTER (WHERE key = 'block') AS block
    FROM values WHERE pick = 1
    GROUP BY trace_id, event_id
), probes AS (
    SELECT DISTINCT trace_id, event_id, kind FROM _label_probes
)
SELECT t.run_id, t.rank, p.trace_id, p.event_id, p.kind,
       w.step, w.phase, coalesce(w.stage, rr.pp_rank) AS stage, w.layer, w.block,
       CASE WHEN w.stage IS NOT NULL THEN 'annotation'
            WHEN rr.pp_rank IS NOT NULL THEN 'layout' END AS stage_source,
       rr.tp_rank, rr.pp_rank
FROM probes p
JOIN traces t USING (trace_id)
LEFT JOIN wide w USING (trace_id, event_id)
LEFT JOIN _rank_roles rr ON rr.run_id = t.run_id AND rr.rank = t.rank;
