-- runs: one row per job (a `tracekit collect` output folder or an imported folder of traces).
--   run_id       VARCHAR  name of the run (`--run`, default: the folder the traces sit in)
--   origin_ns    BIGINT   absolute time (Unix epoch ns where the source says so) that
--                         events.ts_ns counts from; fixed by the first import into the run
--   world_size   INTEGER  ranks in the job (manifest, else the traces' distributedInfo)
--   tp           INTEGER  tensor-parallel degree (manifest only; NULL otherwise)
--   pp           INTEGER  pipeline-parallel degree (manifest only; NULL otherwise)
--   manifest     JSON     the collect manifest (model, layout, versions, latency), or NULL
--   created_at   TIMESTAMP when the run was first imported
CREATE TABLE IF NOT EXISTS runs (
    run_id      VARCHAR PRIMARY KEY,
    origin_ns   BIGINT NOT NULL,
    world_size  INTEGER,
    tp          INTEGER,
    pp          INTEGER,
    manifest    JSON,
    created_at  TIMESTAMP DEFAULT current_timestamp
);
