-- events over a Parquet dataset, on the run's common timeline: a host writes ts_ns relative
-- to the origin it fixed (its traces' time_offset_ns), so ts_ns + that offset - the run's
-- origin (runs.origin_ns) puts every rank on one timeline; where one host converted the
-- whole run the shift is zero.
-- Depends on: _pq_events, _pq_traces (the files under events/ and traces/), runs.
--   columns: those of the events table (queries/schema/03_events.sql), in its order;
--   trace_id is the dataset's global id (BIGINT)
CREATE OR REPLACE VIEW events AS
SELECT e.trace_id,
       CAST(e.event_id AS BIGINT) AS event_id,
       CAST(e.kind AS VARCHAR) AS kind,
       CAST(e.cat AS VARCHAR) AS cat,
       CAST(e.name AS VARCHAR) AS name,
       CAST(e.short_name AS VARCHAR) AS short_name,
       CAST(e.ts_ns + t.time_offset_ns - r.origin_ns AS BIGINT) AS ts_ns,
       CAST(e.dur_ns AS BIGINT) AS dur_ns,
       CAST(e.pid AS BIGINT) AS pid,
       CAST(e.tid AS BIGINT) AS tid,
       CAST(e.device AS INTEGER) AS device,
       CAST(e.stream AS BIGINT) AS stream,
       CAST(e.correlation AS BIGINT) AS correlation,
       CAST(e.external_id AS BIGINT) AS external_id,
       CAST(e.domain AS VARCHAR) AS domain,
       CAST(e.coll_name AS VARCHAR) AS coll_name,
       CAST(e.in_nelems AS BIGINT) AS in_nelems,
       CAST(e.out_nelems AS BIGINT) AS out_nelems,
       CAST(e.dtype AS VARCHAR) AS dtype,
       CAST(e.group_size AS INTEGER) AS group_size,
       CAST(e.pg_name AS VARCHAR) AS pg_name,
       CAST(e.pg_desc AS VARCHAR) AS pg_desc,
       CAST(e.pg_ranks AS VARCHAR) AS pg_ranks,
       CAST(e.seq AS BIGINT) AS seq,
       CAST(e.input_dims AS JSON) AS input_dims,
       CAST(e.bytes AS BIGINT) AS bytes,
       CAST(e.args AS JSON) AS args
FROM _pq_events e
JOIN _pq_traces t ON t.trace_id = e.trace_id
JOIN runs r ON r.run_id = CAST(t.run_id AS VARCHAR);
