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
-- Private helper defined here:
--   _lane_segments(trace_id, device, cls, event_id, s_ns, e_ns, dur_ns, overlap_ns):
--       the owned segments; overlap_ns = |segment ∩ compute islands| for 'comm' segments,
--       NULL for 'compute' segments. Zero-length intervals own nothing (they take
--       no part in the ordering).
-- Depends on: _lane_intervals, _lane_islands, event_labels, traces.
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
), segments AS (
    SELECT trace_id, device, cls, event_id, s_ns,
           least(coalesce(next_s, reach), reach) AS e_ns
    FROM ordered
), owned AS (
    SELECT * FROM segments WHERE e_ns > s_ns
), comm_overlap AS (
    SELECT c.trace_id, c.event_id, c.s_ns,
           sum(least(c.e_ns, k.e_ns) - greatest(c.s_ns, k.s_ns)) AS overlap_ns
    FROM owned c
    JOIN _lane_islands k
      ON k.trace_id = c.trace_id AND k.device IS NOT DISTINCT FROM c.device
     AND k.cls = 'compute' AND k.s_ns < c.e_ns AND c.s_ns < k.e_ns
    WHERE c.cls = 'comm'
    GROUP BY c.trace_id, c.event_id, c.s_ns
)
SELECT o.trace_id, o.device, o.cls, o.event_id, o.s_ns, o.e_ns, o.e_ns - o.s_ns AS dur_ns,
       CASE WHEN o.cls = 'comm' THEN coalesce(x.overlap_ns, 0) END AS overlap_ns
FROM owned o
LEFT JOIN comm_overlap x
  ON x.trace_id = o.trace_id AND x.event_id = o.event_id AND x.s_ns = o.s_ns
 AND o.cls = 'comm';

CREATE OR REPLACE VIEW overlap_by_layer AS
WITH sums AS (
    SELECT s.trace_id, s.device, l.layer,
           coalesce(sum(s.dur_ns) FILTER (WHERE s.cls = 'comm'), 0) AS comm_ns,
           coalesce(sum(s.dur_ns) FILTER (WHERE s.cls = 'compute'), 0) AS compute_ns,
           coalesce(sum(s.overlap_ns) FILTER (WHERE s.cls = 'comm'), 0) AS overlap_ns
    FROM _lane_segments s
    LEFT JOIN event_labels l USING (trace_id, event_id)
    GROUP BY s.trace_id, s.device, l.layer
)
SELECT t.run_id, t.rank, x.trace_id, x.device,
       CASE WHEN x.device IS NULL THEN 'cpu' ELSE 'gpu' || x.device END AS lane,
       x.layer,
       x.comm_ns::BIGINT AS comm_ns, x.compute_ns::BIGINT AS compute_ns,
       x.overlap_ns::BIGINT AS overlap_ns, (x.comm_ns - x.overlap_ns)::BIGINT AS exposed_comm_ns,
       round(100.0 * x.overlap_ns / nullif(x.comm_ns, 0), 4) AS overlap_pct
FROM sums x JOIN traces t USING (trace_id)
ORDER BY t.run_id, t.rank, x.device, x.layer NULLS LAST;
