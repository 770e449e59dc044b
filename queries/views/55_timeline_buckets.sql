-- timeline_buckets(in_run, in_rank, t0_ns, t1_ns, width_ns): table macro. The busy time of
-- each lane group and class of one rank in equal buckets of the window [t0_ns, t1_ns)
-- (bucket b covers [t0_ns + b * width_ns, t0_ns + (b + 1) * width_ns)): the lane chart of
-- `tracekit tui`. Summed over the buckets of the rank's whole span, busy_ns is
-- overlap_by_rank's comm_ns / compute_ns.
-- Depends on: _timeline_islands_of (54_timeline_islands.sql: timeline_islands of one rank).
--   lane      'gpu<device>' or 'cpu'
--   cls       'comm' or 'compute'
--   bucket    bucket index from 0
--   busy_ns   time covered by the class's islands in the bucket, ns (at most width_ns)
CREATE OR REPLACE MACRO timeline_buckets(in_run, in_rank, t0_ns, t1_ns, width_ns) AS TABLE
WITH spread AS (
    SELECT lane, cls, s_ns, e_ns,
           unnest(range((s_ns - t0_ns) // width_ns,
                        greatest((e_ns - 1 - t0_ns) // width_ns, (s_ns - t0_ns) // width_ns) + 1))
               AS bucket
    FROM _timeline_islands_of(in_run, in_rank, t0_ns, t1_ns)
)
SELECT lane, cls, bucket,
       sum(greatest(least(e_ns, t0_ns + (bucket + 1) * width_ns)
                    - greatest(s_ns, t0_ns + bucket * width_ns), 0))::BIGINT AS busy_ns
FROM spread GROUP BY ALL ORDER BY lane, cls, bucket;
