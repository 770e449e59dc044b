-- annotation_ranges: every annotation range on a CPU thread with its nesting depth.
-- Annotation ranges are `user_annotation` events (torch record_function ranges in Kineto,
-- NVTX push/pop and start/end ranges in nsys) and nn.Module ranges that the profiler's
-- `with_modules` records as `python_function` events named 'nn.Module: ...'.
-- Depth counts the ranges of the same thread open when the range starts (0 = outermost);
-- ranges starting together nest longest-first. Zero-length ranges contain nothing and are
-- left out. NVTX start/end ranges (nsys, cat 'nvtx_start_end') need not nest: they are
-- marked nested = false and counted apart (their depth is among the start/end ranges of
-- the thread), so they do not disturb the depths of the ranges that do nest.
-- Depends on: events.
--   trace_id, event_id   the range
--   pid, tid             its thread
--   name, domain         range name and NVTX domain (NULL for Kineto)
--   ts_ns, end_ns        start and end, ns
--   depth                nesting depth on the thread, 0 = outermost
--   nested               false for NVTX start/end ranges, which may overlap without nesting
CREATE OR REPLACE VIEW annotation_ranges AS
WITH ranges AS (
    SELECT trace_id, event_id, pid, tid, name, domain, ts_ns, ts_ns + dur_ns AS end_ns,
           cat IS DISTINCT FROM 'nvtx_start_end' AS nested
    FROM events
    WHERE dur_ns > 0 AND tid IS NOT NULL
      AND (kind = 'user_annotation'
           OR (kind = 'python_function' AND starts_with(name, 'nn.Module: ')))
), points AS (
    SELECT trace_id, pid, tid, nested, event_id, ts_ns AS t, 1 AS delta, 1 AS order_key,
           end_ns
    FROM ranges
    UNION ALL
    SELECT trace_id, pid, tid, nested, event_id, end_ns, -1, 0, end_ns FROM ranges
), running AS (
    SELECT *, sum(delta) OVER (PARTITION BY trace_id, pid, tid, nested
                               ORDER BY t, order_key, end_ns DESC, event_id
                               ROWS UNBOUNDED PRECEDING) AS open_ranges
    FROM points
)
SELECT r.trace_id, r.event_id, r.pid, r.tid, r.name, r.domain, r.ts_ns, r.end_ns,
       p.open_ranges - 1 AS depth, r.nested
FROM ranges r JOIN running p USING (trace_id, event_id)
WHERE p.delta = 1;
