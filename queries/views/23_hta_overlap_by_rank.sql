-- hta_overlap_by_rank: communication/compute overlap per rank computed the way Holistic Trace
-- Analysis 0.5.0 computes `TraceAnalysis.get_comm_comp_overlap()`, to compare with it
-- (docs/hta-comparison.md). Use overlap_by_rank for tracekit's own, exact figure.
-- HTA's definition, step by step (Kineto traces only):
--   1. GPU events are the events with an `args.stream` (kernels, memcpy, memset; not
--      gpu_user_annotation), on every stream and device of the rank together.
--   2. Times are cut to whole microseconds inward: start = ceil(ts_us), end =
--      floor(ts_us + dur_us) on the file's own `ts` (HTA's round_down_time_stamps). HTA
--      does this only to traces with fractional timestamps. Sub-microsecond kernels
--      shrink, and can get a negative duration, which HTA keeps.
--   3. Iteration filter (HTA's _filter_irrelevant_gpu_kernels), when the run holds at
--      least two names containing ProfilerStep: keep only GPU events whose correlation
--      id matches a CPU-side event that starts before the last ProfilerStep starts.
--   4. Communication = names matching `^nccl.*Kernel`; computation = names NOT matching
--      `^(nccl.*Kernel|.*Memcpy|Memset|.*Sync)` (Python re.match); the rest counts as
--      neither.
--   5. Each class is merged into islands in start order (a row starts a new island when
--      it starts after every earlier end), island = [min start, max end]: merged_intervals.
--   6. Overlap = time during which both a comm island and a compute island are open
--      (a sweep over island starts/ends); ratio = overlap / sum(comm island lengths);
--      HTA prints round(100 * ratio, 2).
-- Depends on: events, traces, merged_intervals.
--   run_id, rank, trace_id
--   comm_us       sum of comm island lengths, µs (HTA's denominator)
--   compute_us    sum of compute island lengths, µs
--   overlap_us    time with comm and compute both running, µs
--   overlap_pct   100 * overlap_us / comm_us rounded to 2 decimals, as HTA prints it
CREATE OR REPLACE VIEW hta_overlap_by_rank AS
WITH ev AS (
    SELECT e.trace_id, t.run_id, e.kind, e.name, e.correlation,
           e.kind IN ('kernel', 'gpu_memcpy', 'gpu_memset') AS on_gpu,
           -- the file's own ts in ns: undo the run origin and baseTimeNanoseconds
           e.ts_ns + t.time_offset_ns
               - coalesce(TRY_CAST(t.source_meta->>'baseTimeNanoseconds' AS BIGINT), 0) AS f_ns,
           e.dur_ns
    FROM events e JOIN traces t USING (trace_id)
    WHERE t.format = 'kineto'
), fractional AS (
    -- HTA rounds a trace only when pandas reads its `ts` column as float64, i.e. when
    -- some timestamp has a fractional µs part
    SELECT trace_id, bool_or(f_ns % 1000 <> 0) AS rounds FROM ev GROUP BY trace_id
), timed AS (
    -- whole µs (kept in ns) where HTA rounds: a fractional start rounds up, a fractional
    -- end down (integer arithmetic: ts values near 1.7e18 ns do not fit a double exactly)
    SELECT ev.*,
           CASE WHEN f.rounds THEN (f_ns + 999) // 1000 * 1000 ELSE f_ns END AS s_ns,
           CASE WHEN f.rounds THEN (f_ns + dur_ns) // 1000 * 1000 ELSE f_ns + dur_ns END AS e_ns
    FROM ev JOIN fractional f USING (trace_id)
), step_names AS (
    -- HTA filters iterations only when its symbol table (shared by the ranks it loads
    -- together: here, a run) holds at least two names containing ProfilerStep
    SELECT run_id, count(DISTINCT name) AS n FROM ev
    WHERE NOT on_gpu AND name LIKE '%ProfilerStep%' GROUP BY run_id
), last_step AS (
    SELECT trace_id, max(s_ns) AS last_start FROM timed
    WHERE NOT on_gpu AND name LIKE '%ProfilerStep%' GROUP BY trace_id
), kept AS (
    -- ... and then keeps only GPU events launched (same correlation id) by a CPU-side
    -- event that starts before the last ProfilerStep starts: the last step is dropped
    SELECT g.* FROM timed g
    WHERE g.on_gpu
      AND (coalesce((SELECT n FROM step_names s WHERE s.run_id = g.run_id), 0) < 2
           OR EXISTS (SELECT 1 FROM timed c JOIN last_step l USING (trace_id)
                      WHERE c.trace_id = g.trace_id AND NOT c.on_gpu
                        AND c.correlation = g.correlation AND c.s_ns < l.last_start))
), rounded AS (
    SELECT trace_id,
           CASE WHEN regexp_matches(name, '^nccl.*Kernel') THEN 'comm'
                WHEN regexp_matches(name, '^(nccl.*Kernel|.*Memcpy|Memset|.*Sync)') THEN NULL
                ELSE 'compute' END AS cls,
           s_ns, e_ns
    FROM kept
), intervals AS (
    SELECT trace_id, NULL::INTEGER AS device, cls AS grp, s_ns, e_ns
    FROM rounded WHERE cls IS NOT NULL
), islands AS (
    SELECT trace_id, grp AS cls, s_ns, e_ns FROM merged_intervals('intervals')
), sweep AS (
    SELECT trace_id, s_ns AS t_ns, CASE cls WHEN 'comm' THEN 1 ELSE 2 END AS delta
    FROM islands
    UNION ALL
    SELECT trace_id, e_ns, CASE cls WHEN 'comm' THEN -1 ELSE -2 END
    FROM islands
), running AS (
    SELECT trace_id, t_ns,
           sum(delta) OVER (PARTITION BY trace_id ORDER BY t_ns, delta
                            ROWS UNBOUNDED PRECEDING) AS state,
           lead(t_ns) OVER (PARTITION BY trace_id ORDER BY t_ns, delta) AS next_ns
    FROM sweep
), overlap AS (
    SELECT trace_id, sum(next_ns - t_ns) FILTER (WHERE state = 3) AS overlap_ns
    FROM running GROUP BY trace_id
), totals AS (
    SELECT trace_id,
           sum(e_ns - s_ns) FILTER (WHERE cls = 'comm') AS comm_ns,
           sum(e_ns - s_ns) FILTER (WHERE cls = 'compute') AS compute_ns
    FROM islands GROUP BY trace_id
)
SELECT t.run_id, t.rank, x.trace_id, x.comm_ns / 1000 AS comm_us,
       coalesce(x.compute_ns, 0) / 1000 AS compute_us,
       coalesce(o.overlap_ns, 0) / 1000 AS overlap_us,
       round(100.0 * coalesce(o.overlap_ns, 0) / nullif(x.comm_ns, 0), 2) AS overlap_pct
FROM totals x
JOIN traces t USING (trace_id)
LEFT JOIN overlap o USING (trace_id)
ORDER BY t.run_id, t.rank;
