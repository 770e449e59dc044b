-- nccl_kernels: the GPU kernels of NCCL and RCCL among comm_ops (same columns as comm_ops).
-- Depends on: comm_ops.
CREATE OR REPLACE VIEW nccl_kernels AS
SELECT * FROM comm_ops WHERE kind = 'kernel' AND library IN ('nccl', 'rccl');
