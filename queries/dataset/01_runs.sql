-- runs over a Parquet dataset (`tracekit import --parquet`, docs/parquet.md): one row per run.
-- Each host writes one row per rank, holding the timeline origin it fixed from the ranks it
-- imported; the run's origin is the earliest of them (events and traces are rebased on it)
-- and every other field is the same on each row (max picks it). The same file defines the
-- view in DuckDB and, transpiled (tracekit.spark), in Spark SQL.
-- Depends on: _pq_runs (the files under runs/; run_id and rank from the folder names).
--   columns: those of the runs table (queries/schema/01_runs.sql), in its order
CREATE OR REPLACE VIEW runs AS
SELECT CAST(run_id AS VARCHAR) AS run_id,
       CAST(min(origin_ns) AS BIGINT) AS origin_ns,
       CAST(max(world_size) AS INTEGER) AS world_size,
       CAST(max(tp) AS INTEGER) AS tp,
       CAST(max(pp) AS INTEGER) AS pp,
       CAST(max(manifest) AS JSON) AS manifest,
       CAST(max(created_at) AS TIMESTAMP) AS created_at
FROM _pq_runs
GROUP BY run_id;
