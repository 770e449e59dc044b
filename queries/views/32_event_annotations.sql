-- event_annotations: the annotation ranges enclosing the CPU call that launched each
-- device-side event or communication op, one row per (event, enclosing range). This is
-- nsys's NVTX GPU projection (a kernel belongs to the ranges around its launching CUDA
-- call on the same thread), applied alike to Kineto and nsys imports. CPU events that are
-- their own launchers (e.g. gloo send/recv) appear through event_launches too.
-- Depends on: event_launches, annotation_ranges, traces.
--   run_id                 the run (traces.run_id)
--   trace_id, event_id     the device event or communication op
--   launch_event_id        its launching CPU event
--   annotation_event_id    an enclosing range
--   name, domain           that range's name and NVTX domain
--   depth                  the range's nesting depth on the thread (0 = outermost)
--   inner_rank             1 for the innermost enclosing range, 2 for its parent, ...
--                          (latest start first; NVTX start/end ranges, which need not nest,
--                          are found by a direct range join and ranked by start too)
CREATE OR REPLACE VIEW event_annotations AS
WITH ranges AS MATERIALIZED (
    SELECT * FROM annotation_ranges
), nested AS (
    SELECT * FROM ranges WHERE nested
), depths AS (
    SELECT DISTINCT trace_id, pid, tid, depth FROM nested
), probes AS (
    SELECT l.*, d.depth
    FROM event_launches l
    JOIN depths d ON d.trace_id = l.trace_id AND d.pid IS NOT DISTINCT FROM l.pid
                 AND d.tid = l.tid
), enclosing AS (
    SELECT p.trace_id, p.event_id, p.launch_event_id, a.event_id AS annotation_event_id,
           a.name, a.domain, a.depth, a.ts_ns
    FROM probes p
    ASOF JOIN nested a
      ON a.trace_id = p.trace_id AND a.pid IS NOT DISTINCT FROM p.pid AND a.tid = p.tid
     AND a.depth = p.depth AND a.ts_ns <= p.launch_ts_ns
    WHERE p.launch_ts_ns < a.end_ns
    UNION ALL
    SELECT l.trace_id, l.event_id, l.launch_event_id, a.event_id, a.name, a.domain, a.depth,
           a.ts_ns
    FROM event_launches l
    JOIN ranges a
      ON a.trace_id = l.trace_id AND a.pid IS NOT DISTINCT FROM l.pid AND a.tid = l.tid
     AND NOT a.nested AND a.ts_ns <= l.launch_ts_ns AND l.launch_ts_ns < a.end_ns
)
SELECT t.run_id, x.trace_id, x.event_id, x.launch_event_id, x.annotation_event_id, x.name,
       x.domain, x.depth,
       row_number() OVER (PARTITION BY x.trace_id, x.event_id
                          ORDER BY x.ts_ns DESC, x.depth DESC) AS inner_rank
FROM enclosing x JOIN traces t USING (trace_id);
