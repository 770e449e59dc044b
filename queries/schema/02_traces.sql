-- traces: one row per imported source (a Kineto file, or one process of an nsys report).
--   trace_id        INTEGER  key used by every event table
--   run_id          VARCHAR  the run (runs.run_id)
--   path            VARCHAR  absolute path of the source file at import time
--   sha256          VARCHAR  content hash of the file (re-imports are detected by it)
--   format          VARCHAR  'kineto' or 'nsys'
--   rank            INTEGER  global rank
--   world_size      INTEGER  ranks in the job as this trace states it
--   rank_source     VARCHAR  where the rank came from: 'distributedInfo', 'filename',
--                            'manifest', 'option', 'environment', 'nvtx'
--   backend         VARCHAR  distributed backend ('nccl', 'gloo', ...) or NULL
--   host            VARCHAR  host name where the source says so
--   process_id      BIGINT   profiled process id (nsys: pid inside the report)
--   gpu_names       VARCHAR[] GPU model names (deviceProperties / TARGET_INFO_GPU)
--   process_groups  JSON     distributedInfo.pg_config (groups this rank belongs to)
--   time_offset_ns  BIGINT   subtracted from the source's absolute ns time to give ts_ns
--   source_meta     JSON     other top-level metadata kept (schemaVersion, traceName,
--                            nccl_version, nsys versions); never environment values
--   event_count     BIGINT   rows this trace added to events
--   imported_at     TIMESTAMP
CREATE SEQUENCE IF NOT EXISTS trace_id_seq START 1;
CREATE TABLE IF NOT EXISTS traces (
    trace_id        INTEGER PRIMARY KEY DEFAULT nextval('trace_id_seq'),
    run_id          VARCHAR NOT NULL,
    path            VARCHAR NOT NULL,
    sha256          VARCHAR NOT NULL,
    format          VARCHAR NOT NULL,
    rank            INTEGER NOT NULL,
    world_size      INTEGER,
    rank_source     VARCHAR,
    backend         VARCHAR,
    host            VARCHAR,
    process_id      BIGINT,
    gpu_names       VARCHAR[],
    process_groups  JSON,
    time_offset_ns  BIGINT NOT NULL,
    source_meta     JSON,
    event_count     BIGINT,
    imported_at     TIMESTAMP DEFAULT current_timestamp
);
