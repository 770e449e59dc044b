-- rank_at(pp_rank, tp_rank, tp): the global rank at a place of the layout, the inverse of
-- rank_coords: pp_rank x tp + tp_rank.
-- Depends on: nothing.
--   pp_rank  INTEGER  pipeline stage
--   tp_rank  INTEGER  rank within the tensor-parallel group
--   tp       INTEGER  tensor-parallel degree
--   returns INTEGER  the global rank
CREATE OR REPLACE MACRO rank_at(pp_rank, tp_rank, tp) AS (pp_rank * tp + tp_rank)::INTEGER;
