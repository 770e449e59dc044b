-- rank_layout: where each rank sits in the parallel layout.
-- Filled from the collect manifest; rows may also be added by the user.
--   run_id      VARCHAR  runs.run_id
--   rank        INTEGER  global rank
--   tp_rank     INTEGER  rank within its tensor-parallel group
--   pp_rank     INTEGER  pipeline stage (0 = first)
--   host        VARCHAR  host name
--   device      VARCHAR  device the rank ran on ('cpu', 'cuda:0', ...)
CREATE TABLE IF NOT EXISTS rank_layout (
    run_id   VARCHAR NOT NULL,
    rank     INTEGER NOT NULL,
    tp_rank  INTEGER,
    pp_rank  INTEGER,
    host     VARCHAR,
    device   VARCHAR,
    PRIMARY KEY (run_id, rank)
);
