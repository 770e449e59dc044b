-- rank_coords(rank, tp): where a global rank sits in a TP x PP layout whose ranks are
-- numbered stage by stage (the layout `tracekit collect`, vLLM and Megatron use):
-- pp_rank = rank // tp, tp_rank = rank % tp. NULL unless tp > 0.
-- Depends on: nothing.
--   rank  INTEGER  global rank
--   tp    INTEGER  tensor-parallel degree
--   returns STRUCT(pp_rank INTEGER, tp_rank INTEGER)
CREATE OR REPLACE MACRO rank_coords(rank, tp) AS
    CASE WHEN tp > 0 THEN {'pp_rank': (rank // tp)::INTEGER, 'tp_rank': (rank % tp)::INTEGER} END;
