-- busbw_factor(op, n): the nccl-tests bus-bandwidth factor of a collective, per byte of
-- `msg_bytes` as tracekit sizes it (comm_ops): busbw = algbw x busbw_factor(op, n), and the
-- alpha-beta model's beta is a bus bandwidth in the same sense (tracekit.model).
--   all_reduce 2(n-1)/n; all_gather (msg_bytes = output), reduce_scatter (= input),
--   all_to_all (n-1)/n; gather n-1 (msg_bytes = one rank's contribution: nccl-tests sizes
--   the whole output, n contributions, with factor (n-1)/n); every other op 1 (broadcast,
--   reduce, send, recv, ...).
-- Depends on: nothing.
--   op   VARCHAR  comm_ops.op
--   n    INTEGER  group size (ranks in the process group)
--   returns DOUBLE  the factor (0 for a group of one)
CREATE OR REPLACE MACRO busbw_factor(op, n) AS
    CASE WHEN op = 'all_reduce' THEN 2.0 * (n - 1) / n
         WHEN op IN ('all_gather', 'reduce_scatter', 'all_to_all') THEN 1.0 * (n - 1) / n
         WHEN op = 'gather' THEN 1.0 * (n - 1)
         ELSE 1.0 END;
