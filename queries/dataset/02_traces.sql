-- traces over a Parquet dataset: one row per imported trace, on its run's common timeline.
-- trace_id is the dataset's global id (a BIGINT: md5 of run, rank, format and sha256, so
-- every host derives the same one); time_offset_ns is the run's origin (runs.origin_ns),
-- which every event of the trace is rebased on (see events).
-- Depends on: _pq_traces (the files under traces/), runs.
--   columns: those of the traces table (queries/schema/02_traces.sql), in its order
CREATE OR REPLACE VIEW traces AS
SELECT t.trace_id,
       CAST(t.run_id AS VARCHAR) AS run_id,
       CAST(t.path AS VARCHAR) AS path,
       CAST(t.sha256 AS VARCHAR) AS sha256,
       CAST(t.format AS VARCHAR) AS format,
       CAST(t.rank AS INTEGER) AS rank,
       CAST(t.world_size AS INTEGER) AS world_size,
       CAST(t.rank_source AS VARCHAR) AS rank_source,
       CAST(t.backend AS VARCHAR) AS backend,
       CAST(t.host AS VARCHAR) AS host,
       CAST(t.process_id AS BIGINT) AS process_id,
       CAST(t.gpu_names AS VARCHAR[]) AS gpu_names,
       CAST(t.process_groups AS JSON) AS process_groups,
       r.origin_ns AS time_offset_ns,
       CAST(t.source_meta AS JSON) AS source_meta,
       CAST(t.event_count AS BIGINT) AS event_count,
       CAST(t.imported_at AS TIMESTAMP) AS imported_at
FROM _pq_traces t
JOIN runs r ON r.run_id = CAST(t.run_id AS VARCHAR);
