-- comm_op_list: every communication op with its rank and the layer it ran in (the
-- collectives list of `tracekit tui`: filtered, sorted and paged by the caller).
-- Depends on: comm_ops, _comm_op_labels (event_labels of the communication ops).
--   run_id, rank, trace_id, event_id   the op
--   op, msg_bytes, stream_lane, pg_name, call_index, name   as in comm_ops
--   layer        the op's layer (event_labels; NULL outside layers)
--   ts_ns, dur_ns   start on the run timeline and duration, ns
CREATE OR REPLACE VIEW comm_op_list AS
SELECT c.run_id, c.rank, c.op, l.layer, c.msg_bytes, c.dur_ns, c.ts_ns, c.stream_lane, c.pg_name,
       c.call_index, c.name, c.trace_id, c.event_id
FROM comm_ops c
LEFT JOIN _comm_op_labels l ON l.trace_id = c.trace_id AND l.event_id = c.event_id;
