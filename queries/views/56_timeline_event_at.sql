-- timeline_event_at(in_run, in_rank, in_lane, in_cls, t0_ns, t1_ns): table macro. The
-- longest event of one rank's lane group and class (the intervals overlap_by_rank unites)
-- that meets [t0_ns, t1_ns), with its details: the event under the timeline's cursor.
-- Depends on: _lane_intervals, events, traces.
--   trace_id, event_id, kind, name, ts_ns, dur_ns, coll_name, dtype, in_nelems,
--   out_nelems, pg_name, seq, args        as in events (ns)
--   lane, cls                             as asked
CREATE OR REPLACE MACRO timeline_event_at(in_run, in_rank, in_lane, in_cls, t0_ns, t1_ns) AS TABLE
SELECT e.trace_id, e.event_id, in_lane AS lane, i.cls, e.kind, e.name, e.ts_ns, e.dur_ns,
       e.coll_name, e.dtype, e.in_nelems, e.out_nelems, e.pg_name, e.seq, e.args
FROM _lane_intervals i
JOIN traces t USING (trace_id)
JOIN events e ON e.trace_id = i.trace_id AND e.event_id = i.event_id
WHERE t.run_id = in_run AND t.rank = in_rank AND i.cls = in_cls
  AND CASE WHEN i.device IS NULL THEN 'cpu' ELSE 'gpu' || i.device END = in_lane
  AND i.s_ns < t1_ns AND i.e_ns > t0_ns
ORDER BY e.dur_ns DESC, e.ts_ns, e.event_id
LIMIT 1;
