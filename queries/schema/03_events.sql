-- events: every timed event of every trace, one row each.
-- Times are integer nanoseconds on the run's common timeline:
--   ts_ns = source absolute time in ns - traces.time_offset_ns
-- Kineto: absolute = baseTimeNanoseconds (0 if absent) + ts_us * 1000, read as an exact
-- decimal and rounded to the ns; nsys: see docs/nsys.md (UTC-aligned session time).
--   trace_id     INTEGER  traces.trace_id
--   event_id     BIGINT   position of the event in its source (unique within a trace)
--   kind         VARCHAR  cpu_op | user_annotation | python_function | cuda_runtime |
--                         cuda_driver | kernel | gpu_memcpy | gpu_memset |
--                         gpu_user_annotation | instant | cuda_graph_node | other
--                         (cuda_graph_node: nsys CUDA_GRAPH_NODE_EVENTS, a graph node's
--                         creation or clone; args 'graph node id', 'original graph node id')
--   cat          VARCHAR  the category as the source wrote it
--   name         VARCHAR  event name (kernels: full demangled name)
--   short_name   VARCHAR  kernels from nsys: the short name; NULL otherwise
--   ts_ns        BIGINT   start, ns on the run timeline
--   dur_ns       BIGINT   duration, ns (0 for instants, and where the source gives none or a
--                         negative one: the import summary counts negative Kineto `dur`)
--   pid          BIGINT   process id (CPU events); Kineto string pids are NULL
--   tid          BIGINT   thread id (CPU events); Kineto string tids are NULL
--   device       INTEGER  GPU index (GPU events), NULL for CPU events
--   stream       BIGINT   CUDA stream (GPU events)
--   correlation  BIGINT   runtime call <-> GPU activity link
--   external_id  BIGINT   Kineto `External id`: CPU op <-> kernel link
--   domain       VARCHAR  NVTX domain name (nsys), NULL for Kineto
--   coll_name    VARCHAR  `Collective name` arg (NCCL record_param_comms / kernels)
--   in_nelems    BIGINT   `In msg nelems`
--   out_nelems   BIGINT   `Out msg nelems`
--   dtype        VARCHAR  `dtype` arg, or the first `Input type` for gloo annotations
--   group_size   INTEGER  `Group size`
--   pg_name      VARCHAR  `Process Group Name`
--   pg_desc      VARCHAR  `Process Group Description`
--   pg_ranks     VARCHAR  `Process Group Ranks` as written, e.g. '[0, 1]'
--   seq          BIGINT   `Seq` / `Sequence number` where present
--   input_dims   JSON     `Input Dims`
--   bytes        BIGINT   memcpy/memset bytes; NVTX payload message size (nsys)
--   args         JSON     all other args, as the source wrote them
CREATE TABLE IF NOT EXISTS events (
    trace_id     INTEGER NOT NULL,
    event_id     BIGINT NOT NULL,
    kind         VARCHAR NOT NULL,
    cat          VARCHAR,
    name         VARCHAR,
    short_name   VARCHAR,
    ts_ns        BIGINT NOT NULL,
    dur_ns       BIGINT NOT NULL,
    pid          BIGINT,
    tid          BIGINT,
    device       INTEGER,
    stream       BIGINT,
    correlation  BIGINT,
    external_id  BIGINT,
    domain       VARCHAR,
    coll_name    VARCHAR,
    in_nelems    BIGINT,
    out_nelems   BIGINT,
    dtype        VARCHAR,
    group_size   INTEGER,
    pg_name      VARCHAR,
    pg_desc      VARCHAR,
    pg_ranks     VARCHAR,
    seq          BIGINT,
    input_dims   JSON,
    bytes        BIGINT,
    args         JSON
);
