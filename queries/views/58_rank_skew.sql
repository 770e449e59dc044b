-- rank_skew: per rank, how it fared in the collective instances it took part in: how often
-- it arrived last, how late it arrived and how long it waited for the others.
-- Depends on: _collective_parts.
--   run_id, rank
--   instances     BIGINT  instances the rank took part in
--   times_last    BIGINT  instances of more than one rank in which it arrived last
--   arrival_ns    BIGINT  sum of its arrival_ns (how late it arrived), ns
--   wait_ns       BIGINT  sum of its wait_ns (waiting for the others), ns
--   bubble_ns     BIGINT  sum of its bubble_ns (pipeline receives), ns
--   transfer_ns   BIGINT  sum of the instances' transfer estimates, ns
CREATE OR REPLACE VIEW rank_skew AS
WITH parts AS (
    -- each participant (collective_participants, without its labels) with its
    -- instance's figures (collective_instances: ranks_seen > 1 is min(rank) < max(rank);
    -- last_rank the latest start, lowest rank on ties); an op or instance NULL is in no
    -- instance
    SELECT run_id, rank, arrival_ns, wait_ns, bubble_ns, transfer_ns,
           min(rank) OVER i < max(rank) OVER i AS shared,
           first_value(rank) OVER (PARTITION BY run_id, pg, op, instance
                                   ORDER BY ts_ns DESC, rank) AS last_rank
    FROM _collective_parts
    WHERE op IS NOT NULL AND instance IS NOT NULL
    WINDOW i AS (PARTITION BY run_id, pg, op, instance)
)
SELECT run_id, rank,
       count(*) AS instances,
       count(*) FILTER (WHERE shared AND last_rank = rank) AS times_last,
       sum(arrival_ns)::BIGINT AS arrival_ns,
       sum(wait_ns)::BIGINT AS wait_ns,
       sum(bubble_ns)::BIGINT AS bubble_ns,
       sum(transfer_ns)::BIGINT AS transfer_ns
FROM parts
GROUP BY run_id, rank
ORDER BY run_id, rank;
