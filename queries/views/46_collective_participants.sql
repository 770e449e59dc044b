-- collective_participants: each rank's part in each collective instance. An instance is one
-- collective matched across the ranks of its process group: the ops with the same
-- (run_id, pg, match_op, call_k) (see _comm_groups: call_k is the sequence number where the
-- trace has one, else the call order within the group and op). The two ends of a pipeline
-- send/recv pair form one instance of op 'send_recv'.
-- Transfer time of an instance is estimated by the shortest duration among its ranks (the
-- rank that arrived last waited least; tb-profiler / TraceLens do the same); the rest of
-- each rank's duration is waiting for the others. For the receiving end of a pipeline pair
-- that wait is pipeline bubble. Ops whose group is unknown (_comm_groups.pg NULL: a CUDA
-- graph's communication kernel in a run without a known layout) are in no instance.
-- Private helper defined here:
--   _collective_parts: the same rows without the labels (step ... block), for what shows
--       none (rank_skew, an instance's participants): event_labels is not computed.
--   _collective_labelled: this view's rows, unsorted (collective_instances reads them).
-- Depends on: _comm_groups, _comm_op_labels.
--   run_id, pg, op, instance   the instance (op = match_op; instance = call_k)
--   rank, trace_id, event_id   the participating op
--   rank_op          the rank's own op (send / recv for a pair; else = op)
--   stream_lane      comm_ops.stream_lane: the stream or thread the op ran on
--   ts_ns, dur_ns, end_ns   the rank's op, ns on the run timeline
--   arrival_ns       ts_ns - earliest ts_ns of the instance: how late this rank arrived, ns
--   transfer_ns      instance transfer estimate: min dur_ns over its ranks, ns
--   wait_ns          dur_ns - transfer_ns, ns
--   bubble_ns        wait_ns for the receiving end of a pipeline pair, else NULL, ns
--   msg_bytes        the rank's message size, bytes (NULL where unknown)
--   group_size       size of the process group
--   step, phase, stage, layer, block   labels of the rank's op (event_labels, computed for
--                    the communication ops only: _comm_op_labels)
CREATE OR REPLACE VIEW _collective_parts AS
WITH parts AS (
    SELECT g.run_id, g.pg, g.match_op AS op, g.call_k AS instance, g.rank, g.trace_id,
           g.event_id, g.op AS rank_op, g.stream_lane, g.ts_ns, g.dur_ns, g.end_ns, g.msg_bytes,
           g.group_size, g.peer_rank,
           min(g.ts_ns) OVER i AS first_ts_ns,
           min(g.dur_ns) OVER i AS transfer_ns
    FROM _comm_groups g
    WHERE g.pg IS NOT NULL
    WINDOW i AS (PARTITION BY g.run_id, g.pg, g.match_op, g.call_k)
)
SELECT p.run_id, p.pg, p.op, p.instance, p.rank, p.trace_id, p.event_id, p.rank_op, p.stream_lane,
       p.ts_ns, p.dur_ns, p.end_ns,
       p.ts_ns - p.first_ts_ns AS arrival_ns,
       p.transfer_ns,
       p.dur_ns - p.transfer_ns AS wait_ns,
       CASE WHEN p.peer_rank IS NOT NULL AND p.rank_op = 'recv'
            THEN p.dur_ns - p.transfer_ns END AS bubble_ns,
       p.msg_bytes, p.group_size
FROM parts p;

CREATE OR REPLACE VIEW _collective_labelled AS
SELECT p.*, l.step, l.phase, l.stage, l.layer, l.block
FROM _collective_parts p
LEFT JOIN _comm_op_labels l USING (trace_id, event_id);

CREATE OR REPLACE VIEW collective_participants AS
SELECT * FROM _collective_labelled
ORDER BY run_id, pg, op, instance, rank;
