-- overlap_by_layer: communication/compute overlap per rank, lane group and transformer
-- layer. Partitions the exact per-rank figures of `overlap_by_rank`, so that summing the
-- rows of a (run_id, rank, device) over all layers, the `layer IS NULL` row included, gives
-- that rank's overlap_by_rank row exactly.
-- The partition rule (also used by overlap_by_stage and overlap_by_phase):
--   Within one class (communication or compute) of one lane group, the union of the
--   intervals is cut into owned segments: an instant t belongs to the interval that started
--   most recently at or before t (ties: the longer interval, then the later event). So a
--   kernel that runs past the start of the next kernel of its class hands the rest of the
--   time over to that kernel, and a kernel launched in layer 3 that is still running when
--   layer 4's first kernel starts counts for layer 3 only until then. Each segment carries
--   the labels of its owning event (event_labels), and a communication segment's overlap
--   is its intersection with the compute islands of the lane group.
-- Private helpers defined here:
--   _lane_segments(trace_id, device, cls, event_id, s_ns, e_ns, dur_ns, overlap_ns):
--       the owned segments; overlap_ns = |segment ∩ K| for 'comm' segments (computed as
--       F(e) - F(s), F(t) = owned compute time before t, one ASOF lookup per end),
--       NULL for 'compute' segments. Zero-length intervals own nothing (they take
--       no part in the ordering).
--   _overlap_parts(trace_id, device, layer, stage, phase, comm_ns, compute_ns, overlap_ns):
--       the segments summed per label combination (stage falls back to the rank's
--       pp_rank).
--   _overlap_by_label(label): _overlap_parts summed per rank, lane group and one label
--       (label = 'layer', 'stage' or 'phase'), with this view's columns; overlap_by_layer,
--       overlap_by_stage and overlap_by_phase are it for their label.
-- Depends on: _lane_intervals, event_labels, traces, _rank_roles.
--   run_id, rank, trace_id
--   device          GPU index; NULL for the CPU lane (gloo)
--   lane            'gpu<device>' or 'cpu' (as overlap_by_rank)
--   layer           INTEGER  layer of the owning events; NULL = unattributed
--   comm_ns         communication time owned by ops of this layer, ns
--   compute_ns      compute time owned by kernels/ops of this layer, ns
--   overlap_ns      part of comm_ns during which compute (of any layer) runs, ns
--   exposed_comm_ns comm_ns - overlap_ns, ns
--   overlap_pct     100 * overlap_ns / comm_ns (NULL without communication)
CREATE OR REPLACE VIEW _lane_segments AS
WITH ordered AS (
    SELECT trace_id, device, cls, event_id, s_ns, e_ns,
           lead(s_ns) OVER w AS next_s,
           max(e_ns) OVER (w ROWS UNBOUNDED PRECEDING) AS reach
    FROM _lane_intervals
    WHERE e_ns > s_ns
    WINDOW w AS (PARTITION BY trace_id, device, cls ORDER BY s_ns, e_ns, event_id)
), owned AS MATERIALIZED (
    SELECT trace_id, device, coalesce(device, -1) AS dev_key, cls, event_id, s_ns,
           least(coalesce(next_s, reach), reach) AS e_ns
    FROM ordered
    WHERE least(coalesce(next_s, reach), reach) > s_ns
), compute_before AS (
    -- owned compute segments are disjoint and cover K: F(t) = compute time before t
    SELECT trace_id, dev_key, s_ns, e_ns,
           coalesce(sum(e_ns - s_ns) OVER (PARTITION BY trace_id, dev_key ORDER BY s_ns
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                    0) AS before_ns
    FROM owned WHERE cls = 'compute'
), points AS (
    -- |segment ∩ K| = F(e) - F(s): both ends of every communication segment, one ASOF
    SELECT trace_id, device, dev_key, event_id, s_ns, e_ns,
           unnest([s_ns, e_ns]) AS t, unnest([-1, 1]) AS sign
    FROM owned WHERE cls = 'comm'
), comm_segments AS (
    SELECT p.trace_id, p.device, 'comm' AS cls, p.event_id, p.s_ns, p.e_ns,
           sum(p.sign * coalesce(k.before_ns + least(p.t, k.e_ns) - k.s_ns, 0)) AS overlap_ns
    FROM points p
    ASOF LEFT JOIN compute_before k
      ON k.trace_id = p.trace_id AND k.dev_key = p.dev_key AND k.s_ns <= p.t
    GROUP BY p.trace_id, p.device, p.event_id, p.s_ns, p.e_ns
)
SELECT trace_id, device, cls, event_id, s_ns, e_ns, e_ns - s_ns AS dur_ns, overlap_ns
FROM comm_segments
UNION ALL
SELECT trace_id, device, cls, event_id, s_ns, e_ns, e_ns - s_ns, NULL
FROM owned WHERE cls = 'compute';

CREATE OR REPLACE VIEW _overlap_parts AS
SELECT s.trace_id, s.device, l.layer, coalesce(l.stage, rr.pp_rank) AS stage, l.phase,
       coalesce(sum(s.dur_ns) FILTER (WHERE s.cls = 'comm'), 0) AS comm_ns,
       coalesce(sum(s.dur_ns) FILTER (WHERE s.cls = 'compute'), 0) AS compute_ns,
       coalesce(sum(s.overlap_ns) FILTER (WHERE s.cls = 'comm'), 0) AS overlap_ns
FROM _lane_segments s
LEFT JOIN event_labels l USING (trace_id, event_id)
JOIN traces t ON t.trace_id = s.trace_id
LEFT JOIN _rank_roles rr ON rr.run_id = t.run_id AND rr.rank = t.rank
GROUP BY ALL;

CREATE OR REPLACE MACRO _overlap_by_label(label) AS TABLE
WITH sums AS (
    SELECT trace_id, device, CASE WHEN device IS NULL THEN 'cpu' ELSE 'gpu' || device END AS lane,
           COLUMNS(lambda c: c = label), sum(comm_ns) AS comm_ns, sum(compute_ns) AS compute_ns,
           sum(overlap_ns) AS overlap_ns
    FROM _overlap_parts GROUP BY ALL
)
SELECT t.run_id, t.rank, x.* EXCLUDE (comm_ns, compute_ns, overlap_ns),
       x.comm_ns::BIGINT AS comm_ns, x.compute_ns::BIGINT AS compute_ns,
       x.overlap_ns::BIGINT AS overlap_ns, (x.comm_ns - x.overlap_ns)::BIGINT AS exposed_comm_ns,
       round(100.0 * x.overlap_ns / nullif(x.comm_ns, 0), 4) AS overlap_pct
FROM sums x JOIN traces t USING (trace_id);

CREATE OR REPLACE VIEW overlap_by_layer AS
SELECT * FROM _overlap_by_label('layer')
ORDER BY run_id, rank, device, layer NULLS LAST;
