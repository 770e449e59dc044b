-- perfetto_slices: a run's timeline as Chrome Trace Event Format rows (what `tracekit export
-- --perfetto` writes, one JSON event per row): a process per rank, a track per thread and
-- GPU stream, every event as a slice, communication highlighted, and flows from pipeline
-- sends to their receives and from CPU launches to what they launched.
-- Rows of one kind:
--   'M'  metadata: process_name ('rank N (tp t, stage s)' where the layout is known),
--        process_sort_index, thread_name (the thread's name from `threads`, else
--        'thread <tid>'; 'gpu<device> stream <stream>'), thread_sort_index
--   'X'  every timed event of the run; 'i' its instants (dur_ns 0, kind 'instant')
--   's', 'f'  flow start and finish, bound to the slice they start on / end in
-- Tracks: the process id is the rank; the track id counts the rank's tracks from 1 (CPU
-- threads, then GPU streams, then events without a thread or stream). Slices on one track
-- must nest for the viewers, so a thread's communication ops (gloo's ranges straddle their
-- c10d op) and a stream's GPU user annotations (they straddle kernels) get a track of
-- their own beside it, named '<thread or stream> communication' / '... annotations'.
-- Depends on: events, traces, threads, _rank_roles, comm_ops, _collective_parts,
--             event_labels, event_launches.
--   run_id       VARCHAR  runs.run_id
--   ph           VARCHAR  'M' | 'X' | 'i' | 's' | 'f' (the Trace Event Format's phase)
--   pid          INTEGER  the rank
--   tid          BIGINT   track within the rank, 1, 2, ...; NULL for process metadata
--   name         VARCHAR  event name ('(<kind>)' where it has none); metadata:
--                         process_name | process_sort_index | thread_name |
--                         thread_sort_index; flows: 'launch' | 'send_recv'
--   cat          VARCHAR  events.kind, 'communication,<kind>' for comm_ops; flows: 'flow'
--   ts_ns        BIGINT   start, ns on the run timeline (NULL for metadata)
--   dur_ns       BIGINT   duration, ns ('X' rows only)
--   cname        VARCHAR  'thread_state_iowait' (the viewer's orange) for communication
--   flow_id      BIGINT   flow id shared by its 's' and 'f' rows
--   meta_name    VARCHAR  process_name / thread_name: the name
--   sort_index   BIGINT   process_sort_index / thread_sort_index: the position
--   trace_id, event_id   the event (slices, flow ends)
--   step, phase, stage, layer, block   its labels (event_labels)
--   comm_op      comm_ops.op; msg_bytes BIGINT its message size, bytes
--   pg, instance, rank_op   its collective instance (collective_participants)
--   source_args  JSON     events.args as the source wrote them
CREATE OR REPLACE VIEW perfetto_slices AS
WITH located AS (
    SELECT t.run_id, t.rank AS pid, e.trace_id, e.event_id, e.kind, e.name, e.ts_ns,
           e.dur_ns, e.pid AS os_pid, e.tid AS os_tid, e.device, e.stream, e.args,
           c.op AS comm_op, c.msg_bytes,
           CASE WHEN e.device IS NOT NULL THEN 1 WHEN coalesce(e.pid, e.tid) IS NULL THEN 2
                ELSE 0 END AS lane_group,
           CASE WHEN e.kind = 'gpu_user_annotation' THEN ' annotations'
                WHEN e.device IS NULL AND c.op IS NOT NULL THEN ' communication'
                ELSE '' END AS side
    FROM events e JOIN traces t USING (trace_id)
    LEFT JOIN comm_ops c USING (trace_id, event_id)
), tracked AS MATERIALIZED (
    SELECT *,
           dense_rank() OVER (
               PARTITION BY run_id, pid
               ORDER BY lane_group, trace_id, device, stream, os_pid, os_tid, side
           ) AS tid
    FROM located
), participants AS MATERIALIZED (
    -- collective_participants without its labels (they come from event_labels below)
    SELECT * FROM _collective_parts
), slices AS (
    SELECT k.*, p.pg, p.instance, p.rank_op, l.step, l.phase, l.stage, l.layer, l.block
    FROM tracked k
    LEFT JOIN participants p USING (trace_id, event_id)
    LEFT JOIN event_labels l USING (trace_id, event_id)
), tracks AS (
    SELECT DISTINCT run_id, pid, tid, trace_id, lane_group, device, stream, os_pid, os_tid,
           side
    FROM tracked
), thread_names AS (
    SELECT trace_id, pid AS os_pid, tid AS os_tid,
           string_agg(DISTINCT name, ' | ' ORDER BY name) AS thread_name
    FROM threads WHERE tid IS NOT NULL GROUP BY ALL
), launch_flows AS (
    SELECT row_number() OVER (ORDER BY s.trace_id, s.event_id) AS flow_id,
           s.run_id, s.pid, s.tid AS launched_tid, s.ts_ns AS launched_ts_ns,
           s.trace_id, s.event_id, c.tid AS launch_tid, c.ts_ns AS launch_ts_ns,
           c.event_id AS launch_event_id
    FROM event_launches x
    JOIN tracked s USING (trace_id, event_id)
    JOIN tracked c ON c.trace_id = x.trace_id AND c.event_id = x.launch_event_id
), p2p_flows AS (
    SELECT (SELECT count(*) FROM launch_flows)
               + row_number() OVER (ORDER BY snd.run_id, snd.pg, snd.instance) AS flow_id,
           snd.run_id, s.pid AS send_pid, s.tid AS send_tid, s.ts_ns AS send_ts_ns,
           s.trace_id AS send_trace_id, s.event_id AS send_event_id,
           r.pid AS recv_pid, r.tid AS recv_tid, r.ts_ns AS recv_ts_ns,
           r.trace_id AS recv_trace_id, r.event_id AS recv_event_id
    FROM participants snd
    JOIN participants rcv
      ON rcv.run_id = snd.run_id AND rcv.pg = snd.pg AND rcv.op = snd.op
     AND rcv.instance = snd.instance AND rcv.rank_op = 'recv'
    JOIN tracked s ON s.trace_id = snd.trace_id AND s.event_id = snd.event_id
    JOIN tracked r ON r.trace_id = rcv.trace_id AND r.event_id = rcv.event_id
    WHERE snd.op = 'send_recv' AND snd.rank_op = 'send'
)
SELECT run_id, CASE WHEN kind = 'instant' THEN 'i' ELSE 'X' END AS ph, pid, tid,
       coalesce(name, '(' || kind || ')') AS name,
       CASE WHEN comm_op IS NOT NULL THEN 'communication,' || kind ELSE kind END AS cat,
       ts_ns, CASE WHEN kind <> 'instant' THEN dur_ns END AS dur_ns,
       CASE WHEN comm_op IS NOT NULL THEN 'thread_state_iowait' END AS cname,
       NULL::BIGINT AS flow_id, NULL AS meta_name, NULL::BIGINT AS sort_index,
       trace_id, event_id, step, phase, stage, layer, block, comm_op, msg_bytes, pg,
       instance, rank_op, args AS source_args
FROM slices
UNION ALL BY NAME
SELECT run_id, 'M' AS ph, rank AS pid, NULL::BIGINT AS tid, 'process_name' AS name,
       'rank ' || rank || CASE WHEN tp_rank IS NOT NULL OR pp_rank IS NOT NULL
           THEN ' (' || concat_ws(', ', 'tp ' || tp_rank, 'stage ' || pp_rank) || ')'
           ELSE '' END AS meta_name
FROM _rank_roles
UNION ALL BY NAME
SELECT run_id, 'M' AS ph, rank AS pid, NULL::BIGINT AS tid, 'process_sort_index' AS name,
       rank AS sort_index
FROM _rank_roles
UNION ALL BY NAME
SELECT t.run_id, 'M' AS ph, t.pid, t.tid, 'thread_name' AS name,
       CASE t.lane_group
           WHEN 1 THEN 'gpu' || t.device || ' stream ' || coalesce(t.stream::VARCHAR, '?')
           WHEN 2 THEN 'events without a thread'
           ELSE coalesce(n.thread_name, 'thread ' || coalesce(t.os_tid::VARCHAR, '?')) END
           || t.side AS meta_name
FROM tracks t LEFT JOIN thread_names n USING (trace_id, os_pid, os_tid)
UNION ALL BY NAME
SELECT run_id, 'M' AS ph, pid, tid, 'thread_sort_index' AS name, tid AS sort_index
FROM tracks
UNION ALL BY NAME
SELECT run_id, 's' AS ph, pid, launch_tid AS tid, 'launch' AS name, 'flow' AS cat,
       launch_ts_ns AS ts_ns, flow_id, trace_id, launch_event_id AS event_id
FROM launch_flows
UNION ALL BY NAME
SELECT run_id, 'f' AS ph, pid, launched_tid AS tid, 'launch' AS name, 'flow' AS cat,
       launched_ts_ns AS ts_ns, flow_id, trace_id, event_id
FROM launch_flows
UNION ALL BY NAME
SELECT run_id, 's' AS ph, send_pid AS pid, send_tid AS tid, 'send_recv' AS name, 'flow' AS cat,
       send_ts_ns AS ts_ns, flow_id, send_trace_id AS trace_id, send_event_id AS event_id
FROM p2p_flows
UNION ALL BY NAME
SELECT run_id, 'f' AS ph, recv_pid AS pid, recv_tid AS tid, 'send_recv' AS name, 'flow' AS cat,
       recv_ts_ns AS ts_ns, flow_id, recv_trace_id AS trace_id, recv_event_id AS event_id
FROM p2p_flows;
