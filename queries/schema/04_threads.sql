-- threads: names of CPU threads and processes (Kineto `M` metadata events,
-- nsys ThreadNames / PROCESSES).
--   trace_id  INTEGER  traces.trace_id
--   pid       BIGINT   process id
--   tid       BIGINT   thread id (NULL for a process-name row)
--   name      VARCHAR  thread or process name, e.g. 'thread 2244 (pt_gloo_runloop)'
CREATE TABLE IF NOT EXISTS threads (
    trace_id  INTEGER NOT NULL,
    pid       BIGINT,
    tid       BIGINT,
    name      VARCHAR
);
