-- collective_instances: one row per collective instance (a collective matched across the
-- ranks of its process group; pipeline send/recv pairs as op 'send_recv'), with arrival
-- skew, the transfer-time estimate and the time ranks spent waiting. Matching and the
-- transfer estimate are defined in collective_participants. A rank missing from an
-- instance shows as ranks_seen < group_size.
-- Private helpers defined here:
--   _instance_figures_of(parts): the instances of the participant rows of table ``parts``
--       (collective_participants' columns), without their labels.
--   _instance_figures: _instance_figures_of('_collective_parts'), for what shows no label
--       (the TUI's list of instances): event_labels is not computed.
-- Depends on: _collective_parts, _collective_labelled, busbw_factor.
--   run_id, pg, op, instance   the instance
--   ranks_seen       ranks that took part
--   group_size       size of the process group
--   complete         ranks_seen = group_size
--   ranks            the participating ranks, ascending
--   first_ts_ns      earliest start among the ranks, ns
--   last_ts_ns       latest start, ns
--   end_ns           latest end, ns
--   skew_ns          last_ts_ns - first_ts_ns: arrival skew, ns
--   last_rank        the rank that arrived last (lowest rank on ties)
--   transfer_ns      shortest duration among the ranks: transfer estimate, ns
--   max_dur_ns       longest duration among the ranks, ns
--   total_wait_ns    sum over ranks of (duration - transfer_ns), ns
--   bubble_ns        pipeline pairs: the receiver's wait (bubble), ns; else NULL
--   msg_bytes        largest message size among the ranks, bytes
--   algbw_gbps       msg_bytes / transfer_ns (GB/s)
--   busbw_gbps       algbw_gbps x busbw_factor(op, group_size) (the nccl-tests factor)
--   step, phase, layer, block   labels of the lowest rank's op
CREATE OR REPLACE MACRO _instance_figures_of(parts) AS TABLE
WITH agg AS (
    SELECT run_id, pg, op, instance,
           count(DISTINCT rank) AS ranks_seen,
           max(group_size) AS group_size,
           list(DISTINCT rank ORDER BY rank) AS ranks,
           min(ts_ns) AS first_ts_ns,
           max(ts_ns) AS last_ts_ns,
           max(end_ns) AS end_ns,
           arg_max(rank, (ts_ns, -rank)) AS last_rank,
           min(dur_ns) AS transfer_ns,
           max(dur_ns) AS max_dur_ns,
           sum(wait_ns)::BIGINT AS total_wait_ns,
           max(bubble_ns) AS bubble_ns,
           max(msg_bytes) AS msg_bytes
    FROM query_table(parts)
    GROUP BY run_id, pg, op, instance
)
SELECT run_id, pg, op, instance, ranks_seen, group_size, ranks_seen = group_size AS complete,
       ranks, first_ts_ns, last_ts_ns, end_ns, last_ts_ns - first_ts_ns AS skew_ns, last_rank,
       transfer_ns, max_dur_ns, total_wait_ns, bubble_ns, msg_bytes,
       round(msg_bytes / nullif(transfer_ns, 0), 4) AS algbw_gbps,
       round(msg_bytes / nullif(transfer_ns, 0)
             * busbw_factor(op, group_size), 4) AS busbw_gbps
FROM agg;

CREATE OR REPLACE VIEW _instance_figures AS
WITH parts AS (
    SELECT * FROM _collective_parts
)
SELECT * FROM _instance_figures_of('parts');

CREATE OR REPLACE VIEW collective_instances AS
WITH parts AS MATERIALIZED (
    -- collective_participants' rows, without the sort of its ORDER BY
    SELECT * FROM _collective_labelled
), labels AS (
    SELECT run_id, pg, op, instance,
           arg_min(step, rank) AS step,
           arg_min(phase, rank) AS phase,
           arg_min(layer, rank) AS layer,
           arg_min(block, rank) AS block
    FROM parts
    GROUP BY run_id, pg, op, instance
)
SELECT f.*, l.step, l.phase, l.layer, l.block
FROM _instance_figures_of('parts') f
JOIN labels l
  ON l.run_id = f.run_id AND l.pg IS NOT DISTINCT FROM f.pg AND l.op IS NOT DISTINCT FROM f.op
 AND l.instance IS NOT DISTINCT FROM f.instance
ORDER BY f.run_id, f.first_ts_ns, f.pg, f.op, f.instance;
