-- threads over a Parquet dataset: thread and process names.
-- Depends on: _pq_threads (the files under threads/).
--   columns: those of the threads table (queries/schema/04_threads.sql), in its order;
--   trace_id is the dataset's global id (BIGINT)
CREATE OR REPLACE VIEW threads AS
SELECT trace_id,
       CAST(pid AS BIGINT) AS pid,
       CAST(tid AS BIGINT) AS tid,
       CAST(name AS VARCHAR) AS name
FROM _pq_threads;
