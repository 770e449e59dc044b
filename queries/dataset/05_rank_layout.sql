-- rank_layout over a Parquet dataset: each rank's place in the parallel layout.
-- Depends on: _pq_rank_layout (the files under rank_layout/; run_id and rank from the
-- folder names).
--   columns: those of the rank_layout table (queries/schema/05_rank_layout.sql), in its order
CREATE OR REPLACE VIEW rank_layout AS
SELECT CAST(run_id AS VARCHAR) AS run_id,
       CAST(rank AS INTEGER) AS rank,
       CAST(tp_rank AS INTEGER) AS tp_rank,
       CAST(pp_rank AS INTEGER) AS pp_rank,
       CAST(host AS VARCHAR) AS host,
       CAST(device AS VARCHAR) AS device
FROM _pq_rank_layout;
