-- rank_skew: per rank, how it fared in the collective instances it took part in: how often
-- it arrived last, how late it arrived and how long it waited for the others.
-- Depends on: collective_participants, collective_instances.
--   run_id, rank
--   instances     BIGINT  instances the rank took part in
--   times_last    BIGINT  instances of more than one rank in which it arrived last
--   arrival_ns    BIGINT  sum of its arrival_ns (how late it arrived), ns
--   wait_ns       BIGINT  sum of its wait_ns (waiting for the others), ns
--   bubble_ns     BIGINT  sum of its bubble_ns (pipeline receives), ns
--   transfer_ns   BIGINT  sum of the instances' transfer estimates, ns
CREATE OR REPLACE VIEW rank_skew AS
SELECT p.run_id, p.rank,
       count(*) AS instances,
       count(*) FILTER (WHERE i.ranks_seen > 1 AND i.last_rank = p.rank) AS times_last,
       sum(p.arrival_ns)::BIGINT AS arrival_ns,
       sum(p.wait_ns)::BIGINT AS wait_ns,
       sum(p.bubble_ns)::BIGINT AS bubble_ns,
       sum(p.transfer_ns)::BIGINT AS transfer_ns
FROM collective_participants p
JOIN collective_instances i USING (run_id, pg, op, instance)
GROUP BY p.run_id, p.rank
ORDER BY p.run_id, p.rank;
