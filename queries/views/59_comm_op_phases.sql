-- comm_op_phases: every communication op with the generation phase it ran in, as the
-- analytical model counts calls (tracekit validate: model against measurement). The phase
-- is the op's event_labels phase ('prefill' / 'decode' from the enclosing tk:step=<k>
-- phase=<...> range); ops outside every step range (the collector's barrier before the
-- measured pass) have phase 'outside'.
-- Depends on: comm_ops, _comm_op_labels (event_labels of the communication ops).
--   run_id, rank, trace_id, event_id   the op (comm_ops)
--   op           comm_ops.op
--   phase        VARCHAR  'prefill' | 'decode' | ... | 'outside'
--   msg_bytes    BIGINT   message size by the nccl-tests convention (comm_ops), bytes
--   dur_ns       BIGINT   duration, ns
--   group_size   INTEGER  process group size (comm_ops; NULL where unknown)
CREATE OR REPLACE VIEW comm_op_phases AS
SELECT c.run_id, c.rank, c.trace_id, c.event_id, c.op, coalesce(l.phase, 'outside') AS phase,
       c.msg_bytes, c.dur_ns, c.group_size
FROM comm_ops c
LEFT JOIN _comm_op_labels l USING (trace_id, event_id);
