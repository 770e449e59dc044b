-- event_labels: the labels (step, phase, pipeline stage, layer, block) of every device-side
-- event, communication op and (in CPU-only traces) CPU operator, read from the annotation ranges enclosing the
-- CPU call that launched it (kernels/memcpy/memset: the CUDA call with the same correlation
-- id; gloo ops: their c10d launch op; CPU operators: themselves). The same projection as
-- `event_annotations`, extended to the CPU operators that CPU-lane overlap measures as
-- compute (every cpu_op of a trace without kernels is labelled).
-- Range names become labels through `label_rules`; per key the innermost range wins, then
-- the lowest rule priority. A CUDA graph kernel (graph_kernels) whose graph node's
-- creation at capture the trace holds takes stage, layer and block from the ranges around
-- that creation (those around the replay's launch where it gives none), step and phase
-- from the ranges around the replay's launch (when it ran). The stage falls back to the rank's place in the layout
-- (`_rank_roles`) when no range names it.
-- Private helpers defined here:
--   _rank_roles(run_id, rank, tp_rank, pp_rank, role_source): rank_layout (collect manifest
--       or user rows), else rank_coords(rank, runs.tp) where the run knows tp, else
--       from distributedInfo.pg_config: a group of consecutive ranks smaller than the job
--       is the rank's TP group (tp_rank = position in it, pp_rank = rank // its size).
--   _label_names(name, key, value, priority): each distinct annotation name x matching rule
--       (a rule's `hint` substring keeps its regular expression off the names without it).
--   _label_probes(trace_id, event_id, pid, tid, probe_ts_ns, probe, captured): what is
--       labelled and the CPU time point whose enclosing ranges label it: its launch
--       (probe 'launch', one row per launch), and for a CUDA graph kernel whose capture the
--       trace holds (captured) also the creation of its graph node ('capture',
--       _graph_capture).
--   _labelled_ranges: annotation ranges some rule matches, with their own labels (lowest
--       priority per key); pk = coalesce(pid, -1); order_key orders by start, then depth
--       (ts_ns * 64 + depth: exact for run timelines under 4.5 years and 64 levels).
--   _event_labels_of(probe_rows): this view's rows for the probes of table `probe_rows`
--       (_label_probes' columns); event_labels is it for every probe. An event's labels
--       come from its own probes only, so fewer probes give the same rows for fewer events.
--   _comm_op_labels: event_labels' rows of the communication ops (comm_ops' events) only,
--       for the views that label nothing else (comm_op_list, collective_participants,
--       comm_op_phases): the lookups run for a tenth of the kernels or fewer.
-- Method (no range join): one ASOF lookup per probe finds the labelled range of its thread
-- that started last at or before it. With properly nested ranges that range is either the
-- innermost labelled range around the probe or a descendant of it that already ended; in
-- the second case the deepest of its ancestors still open at the probe is the innermost.
-- Each labelled range's chain (its labelled ancestors, by one ASOF lookup per shallower
-- depth, and itself) gives the labels in force inside it (innermost per key). The labelled
-- ranges and the chains are CTEs read several times, computed once (MATERIALIZED): as
-- views, each reading recomputed the ranges' nesting depth (annotation_ranges' window).
-- Depends on: events, traces, runs, rank_layout, label_rules, event_launches,
--             annotation_ranges, _graph_capture, rank_coords, _comm_names.
--   run_id, rank, trace_id, event_id   the labelled event
--   step          BIGINT   generation step (tk:step=N), NULL when no range names it
--   phase         VARCHAR  'prefill' | 'decode' | ... (tk:phase=...)
--   stage         INTEGER  pipeline stage: a range's tk:stage=N, else the rank's pp_rank
--   layer         INTEGER  transformer layer (tk:layer=N, model.layers.N, nn.Module ..._N)
--   block         VARCHAR  attention | mlp | embedding | lm_head | pp_send | pp_recv | sample ...
--   stage_source  VARCHAR  'annotation' | 'layout' | NULL
--   tp_rank, pp_rank  INTEGER  the rank's place in the layout (NULL when unknown)
CREATE OR REPLACE VIEW _rank_roles AS
WITH ranks AS (
    SELECT run_id, rank, any_value(process_groups) AS process_groups,
           count(*) OVER (PARTITION BY run_id) AS ranks_in_run
    FROM traces GROUP BY run_id, rank
), groups AS (
    SELECT r.run_id, r.rank, TRY_CAST(g.value->'ranks' AS INTEGER[]) AS members
    FROM ranks r, json_each(r.process_groups) g
    WHERE r.process_groups IS NOT NULL
), from_pg AS (
    -- a group of consecutive ranks smaller than the job is this rank's TP group
    SELECT run_id, rank, max(len(members)) AS tp,
           max(list_position(members, rank) - 1) AS tp_rank
    FROM groups g
    WHERE len(members) > 1 AND list_position(members, rank) IS NOT NULL
      AND members = range(members[1], members[1] + len(members))::INTEGER[]
      AND len(members) < (SELECT max(ranks_in_run) FROM ranks x WHERE x.run_id = g.run_id)
    GROUP BY run_id, rank
)
SELECT t.run_id, t.rank,
       coalesce(l.tp_rank, rank_coords(t.rank, r.tp).tp_rank, p.tp_rank) AS tp_rank,
       coalesce(l.pp_rank, rank_coords(t.rank, r.tp).pp_rank, rank_coords(t.rank, p.tp).pp_rank)
           AS pp_rank,
       CASE WHEN l.rank IS NOT NULL THEN 'rank_layout'
            WHEN r.tp > 0 THEN 'runs.tp'
            WHEN p.tp IS NOT NULL THEN 'pg_config' END AS role_source
FROM ranks t
LEFT JOIN rank_layout l USING (run_id, rank)
LEFT JOIN runs r USING (run_id)
LEFT JOIN from_pg p USING (run_id, rank);

CREATE OR REPLACE VIEW _label_names AS
WITH names AS (
    SELECT DISTINCT name FROM events
    WHERE dur_ns > 0 AND (kind = 'user_annotation'
          OR (kind = 'python_function' AND starts_with(name, 'nn.Module: ')))
)
SELECT n.name, r.key, regexp_extract(n.name, r.pattern, 1) AS value, r.priority
FROM names n
-- CASE, not AND: the optimizer may reorder an AND and run the expression first
JOIN label_rules r ON CASE WHEN r.hint IS NULL OR contains(n.name, r.hint)
                           THEN regexp_matches(n.name, r.pattern) ELSE false END;

CREATE OR REPLACE VIEW _label_probes AS
SELECT l.trace_id, l.event_id, l.pid, l.tid, l.launch_ts_ns AS probe_ts_ns, 'launch' AS probe,
       g.event_id IS NOT NULL AS captured
FROM event_launches l
LEFT JOIN _graph_capture g ON g.trace_id = l.trace_id AND g.event_id = l.event_id
UNION ALL
SELECT trace_id, event_id, pid, tid, capture_ts_ns, 'capture', true
FROM _graph_capture
UNION ALL
SELECT e.trace_id, e.event_id, e.pid, e.tid, e.ts_ns, 'launch', false
FROM events e
WHERE e.kind = 'cpu_op'
  AND e.trace_id NOT IN (SELECT DISTINCT trace_id FROM events WHERE kind = 'kernel');

CREATE OR REPLACE VIEW _labelled_ranges AS
WITH own AS (
    SELECT a.trace_id, a.event_id AS range_id, coalesce(a.pid, -1) AS pk, a.tid, a.depth,
           a.ts_ns, a.end_ns, n.key, n.value, n.priority
    FROM annotation_ranges a JOIN _label_names n USING (name)
)
SELECT trace_id, range_id, pk, tid, depth, ts_ns, end_ns,
       ts_ns * 64 + least(depth, 63) AS order_key,
       arg_min(value, priority) FILTER (WHERE key = 'step') AS step,
       arg_min(value, priority) FILTER (WHERE key = 'phase') AS phase,
       arg_min(value, priority) FILTER (WHERE key = 'stage') AS stage,
       arg_min(value, priority) FILTER (WHERE key = 'layer') AS layer,
       arg_min(value, priority) FILTER (WHERE key = 'block') AS block
FROM own
GROUP BY trace_id, range_id, pk, tid, depth, ts_ns, end_ns;

CREATE OR REPLACE MACRO _event_labels_of(probe_rows) AS TABLE
WITH labelled AS MATERIALIZED (
    -- order_key as BIGINT (depth is a HUGEINT sum): the ASOF below sorts on it
    SELECT * REPLACE (order_key::BIGINT AS order_key) FROM _labelled_ranges
), depths AS (
    SELECT DISTINCT trace_id, pk, tid, depth FROM labelled
), chain_probes AS (
    SELECT r.trace_id, r.range_id, r.pk, r.tid, r.ts_ns, d.depth
    FROM labelled r
    JOIN depths d ON d.trace_id = r.trace_id AND d.pk = r.pk AND d.tid = r.tid
                 AND d.depth < r.depth
), chain AS MATERIALIZED (
    -- each labelled range's labelled ancestors (the one still open at its start, per
    -- shallower depth) and itself
    SELECT p.trace_id, p.range_id, a.range_id AS anc_id, a.depth AS anc_depth,
           a.end_ns AS anc_end_ns
    FROM chain_probes p
    ASOF JOIN labelled a
      ON a.trace_id = p.trace_id AND a.pk = p.pk AND a.tid = p.tid AND a.depth = p.depth
     AND a.ts_ns <= p.ts_ns
    WHERE p.ts_ns < a.end_ns
    UNION ALL
    SELECT trace_id, range_id, range_id, depth, end_ns FROM labelled
), resolved AS (
    -- the labels in force inside each labelled range (innermost per key)
    SELECT c.trace_id, c.range_id,
           arg_max(a.step, c.anc_depth) FILTER (WHERE a.step IS NOT NULL) AS step,
           arg_max(a.phase, c.anc_depth) FILTER (WHERE a.phase IS NOT NULL) AS phase,
           arg_max(a.stage, c.anc_depth) FILTER (WHERE a.stage IS NOT NULL) AS stage,
           arg_max(a.layer, c.anc_depth) FILTER (WHERE a.layer IS NOT NULL) AS layer,
           arg_max(a.block, c.anc_depth) FILTER (WHERE a.block IS NOT NULL) AS block
    FROM chain c
    JOIN labelled a ON a.trace_id = c.trace_id AND a.range_id = c.anc_id
    GROUP BY c.trace_id, c.range_id
), probes AS (
    SELECT trace_id, event_id, probe, captured, coalesce(pid, -1) AS pk, tid, probe_ts_ns,
           probe_ts_ns * 64 + 63 AS order_key
    FROM query_table(probe_rows)
), hit AS (
    -- the labelled range that started last at or before the probe on its thread (ranges
    -- starting together: the deepest): the innermost labelled range around it, or a
    -- descendant of it that has already ended
    SELECT p.trace_id, p.event_id, p.probe, p.captured, p.probe_ts_ns, r.range_id, r.end_ns
    FROM probes p
    ASOF LEFT JOIN labelled r
      ON r.trace_id = p.trace_id AND r.pk = p.pk AND r.tid = p.tid
     AND r.order_key <= p.order_key
), ended AS (
    SELECT h.trace_id, h.event_id, h.probe, arg_max(c.anc_id, c.anc_depth) AS range_id
    FROM hit h
    JOIN chain c ON c.trace_id = h.trace_id AND c.range_id = h.range_id
    WHERE h.probe_ts_ns >= h.end_ns AND c.anc_end_ns > h.probe_ts_ns
    GROUP BY h.trace_id, h.event_id, h.probe
), innermost AS (
    SELECT h.trace_id, h.event_id, h.probe, h.captured,
           coalesce(CASE WHEN h.probe_ts_ns < h.end_ns THEN h.range_id END, x.range_id)
               AS range_id
    FROM hit h
    LEFT JOIN ended x
      ON x.trace_id = h.trace_id AND x.event_id = h.event_id AND x.probe = h.probe
), probed AS (
    SELECT i.trace_id, i.event_id, i.probe, i.captured, r.step, r.phase, r.stage, r.layer,
           r.block
    FROM innermost i
    LEFT JOIN resolved r ON r.trace_id = i.trace_id AND r.range_id = i.range_id
), merged AS (
    -- a graph kernel whose capture the trace holds: step and phase from the replay's
    -- launch (when it ran), stage, layer and block from its capture (which code it is)
    SELECT trace_id, event_id, step, phase, stage, layer, block
    FROM probed WHERE NOT captured
    UNION ALL
    SELECT trace_id, event_id,
           max(step) FILTER (WHERE probe = 'launch'),
           max(phase) FILTER (WHERE probe = 'launch'),
           coalesce(max(stage) FILTER (WHERE probe = 'capture'),
                    max(stage) FILTER (WHERE probe = 'launch')),
           coalesce(max(layer) FILTER (WHERE probe = 'capture'),
                    max(layer) FILTER (WHERE probe = 'launch')),
           coalesce(max(block) FILTER (WHERE probe = 'capture'),
                    max(block) FILTER (WHERE probe = 'launch'))
    FROM probed WHERE captured
    GROUP BY trace_id, event_id
)
SELECT t.run_id, t.rank, m.trace_id, m.event_id,
       TRY_CAST(m.step AS BIGINT) AS step, m.phase,
       coalesce(TRY_CAST(m.stage AS INTEGER), rr.pp_rank) AS stage,
       TRY_CAST(m.layer AS INTEGER) AS layer, m.block,
       CASE WHEN m.stage IS NOT NULL THEN 'annotation'
            WHEN rr.pp_rank IS NOT NULL THEN 'layout' END AS stage_source,
       rr.tp_rank, rr.pp_rank
FROM merged m
JOIN traces t ON t.trace_id = m.trace_id
LEFT JOIN _rank_roles rr ON rr.run_id = t.run_id AND rr.rank = t.rank;

CREATE OR REPLACE VIEW event_labels AS
SELECT * FROM _event_labels_of('_label_probes');

CREATE OR REPLACE VIEW _comm_op_labels AS
WITH comm_names AS MATERIALIZED (
    SELECT kind, name FROM _comm_names
), comm AS (
    -- the events of comm_ops (those whose (kind, name) _comm_names classifies)
    SELECT e.trace_id, e.event_id
    FROM events e SEMI JOIN comm_names n ON n.kind = e.kind AND n.name = e.name
), probe_rows AS (
    SELECT p.* FROM _label_probes p
    SEMI JOIN comm c ON c.trace_id = p.trace_id AND c.event_id = p.event_id
)
SELECT * FROM _event_labels_of('probe_rows');
