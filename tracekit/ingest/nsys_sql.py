"""DuckDB SQL that turns raw nsys tables (registered as Arrow) into ``events`` rows.

Fixed text, no values spliced in. The reader registers each raw table read
from the export under a fixed name (``kernel_raw``, ``runtime_raw``,
``memcpy_raw``, ``memset_raw``, ``nvtx_raw``, ``graph_node_raw``, ``thread_raw``,
``process_raw``, ``strings_raw``); each event statement is a view over one of them, and the
reader's local view ``ev`` is the union of those it has data for, cast to the
columns of the empty table ``ev_empty``: the columns of ``events`` with
``abs_ns`` in place of ``ts_ns``, plus ``_proc`` (globalTid or globalPid >> 24:
hardware, VM and process id), which splits a report into processes. Rows are
shaped once, when the reader hands them out. Two variables set by the reader
place times: ``t0``, the session start on the report's clock, and ``utc``, the
UTC epoch ns of that instant (0 when unknown), so ``abs_ns = t - t0 + utc``.
``_ord`` numbers the rows of the raw tables, offset by the reader so that
``event_id`` is unique within a report.
"""

from __future__ import annotations

CREATE_EV = """
CREATE TABLE ev_empty AS
SELECT CAST(NULL AS BIGINT) AS _proc, CAST(NULL AS BIGINT) AS abs_ns,
       * EXCLUDE (trace_id, ts_ns)
FROM events LIMIT 0;
CREATE TABLE th (_proc BIGINT, pid BIGINT, tid BIGINT, name VARCHAR);
-- globalTid / globalPid: hardware and VM id, process id (24 bits), thread id (24 bits)
CREATE MACRO proc_of(g) AS g >> 24;
CREATE MACRO pid_of(g) AS (g >> 24) & 16777215;
CREATE MACRO tid_of(g) AS g & 16777215;
CREATE MACRO report_ns(t) AS t - getvariable('t0') + getvariable('utc');
"""

# Names are cleaned once per distinct string, not per row: `api` drops the runtime's
# `_v7000` version suffix, `driver` tells driver calls (cuLaunchKernel) from runtime ones.
STRINGS = """
CREATE TABLE strings AS
SELECT id, value, regexp_replace(value, '_v[0-9]+$', '') AS api,
       regexp_matches(value, '^cu[A-Z]') AS driver
FROM strings_raw
"""

KERNELS = """
CREATE VIEW kernel_ev AS
SELECT proc_of(k.globalPid) AS _proc, k._ord AS event_id,
       'kernel' AS kind, 'CUPTI_ACTIVITY_KIND_KERNEL' AS cat,
       coalesce(d.value, s.value) AS name, s.value AS short_name,
       report_ns(k.start) AS abs_ns, greatest(k."end" - k.start, 0) AS dur_ns,
       k.deviceId AS device, k.streamId AS stream, k.correlationId AS correlation,
       CASE WHEN k.graphNodeId IS NOT NULL OR k.graphId IS NOT NULL
            THEN json_object('graph id', k.graphId, 'graph node id', k.graphNodeId) END AS args
FROM kernel_raw k
LEFT JOIN strings d ON d.id = k.demangledName
LEFT JOIN strings s ON s.id = k.shortName
"""

RUNTIME = """
CREATE VIEW runtime_ev AS
SELECT proc_of(r.globalTid) AS _proc, r._ord AS event_id,
       CASE WHEN coalesce(r.eventClass = 1, n.driver) THEN 'cuda_driver' ELSE 'cuda_runtime'
       END AS kind,
       'CUPTI_ACTIVITY_KIND_RUNTIME' AS cat,
       n.api AS name,
       report_ns(r.start) AS abs_ns, greatest(r."end" - r.start, 0) AS dur_ns,
       pid_of(r.globalTid) AS pid, tid_of(r.globalTid) AS tid,
       r.correlationId AS correlation,
       CASE WHEN r.returnValue <> 0 THEN json_object('return value', r.returnValue) END AS args
FROM runtime_raw r LEFT JOIN strings n ON n.id = r.nameId
"""

MEMCPY = """
CREATE VIEW memcpy_ev AS
SELECT proc_of(m.globalPid) AS _proc, m._ord AS event_id,
       'gpu_memcpy' AS kind, 'CUPTI_ACTIVITY_KIND_MEMCPY' AS cat,
       'Memcpy ' || coalesce(['Unknown', 'HtoD', 'DtoH', 'HtoA', 'AtoH', 'AtoA', 'AtoD', 'DtoA',
                              'DtoD', 'HtoH', 'PtoP', 'UVM HtoD', 'UVM DtoH', 'UVM DtoD']
                             [m.copyKind + 1], 'kind ' || m.copyKind) AS name,
       report_ns(m.start) AS abs_ns, greatest(m."end" - m.start, 0) AS dur_ns,
       m.deviceId AS device, m.streamId AS stream, m.correlationId AS correlation,
       m.bytes AS bytes,
       json_object('copy kind', m.copyKind, 'src kind', m.srcKind, 'dst kind', m.dstKind) AS args
FROM memcpy_raw m
"""

MEMSET = """
CREATE VIEW memset_ev AS
SELECT proc_of(m.globalPid) AS _proc, m._ord AS event_id,
       'gpu_memset' AS kind, 'CUPTI_ACTIVITY_KIND_MEMSET' AS cat, 'Memset' AS name,
       report_ns(m.start) AS abs_ns, greatest(m."end" - m.start, 0) AS dur_ns,
       m.deviceId AS device, m.streamId AS stream, m.correlationId AS correlation,
       m.bytes AS bytes, json_object('value', m.value) AS args
FROM memset_raw m
"""

# NVTX eventType: 34 mark, 59 push/pop range, 60 start/end range, 75 domain create.
# cat tells them apart: start/end ranges need not nest (see annotation_ranges).
# Domain ids are per process: a domain is named by the eventType-75 row with the same
# domainId in the same process; without one it is 'domain<id>'. Domain 0 is the
# default domain (NULL, as for Kineto).
NVTX = """
CREATE VIEW nvtx_ev AS
WITH domains AS (
    SELECT proc_of(globalTid) AS _proc, domainId, any_value(text) AS domain_name
    FROM nvtx_raw WHERE eventType = 75 AND text IS NOT NULL GROUP BY ALL
)
SELECT proc_of(n.globalTid) AS _proc, n._ord AS event_id,
       CASE WHEN n.eventType = 34 THEN 'instant' ELSE 'user_annotation' END AS kind,
       CASE n.eventType WHEN 34 THEN 'nvtx_mark' WHEN 59 THEN 'nvtx_push_pop'
                        ELSE 'nvtx_start_end' END AS cat,
       coalesce(n.text, s.value) AS name,
       report_ns(n.start) AS abs_ns,
       CASE WHEN n.eventType = 34 THEN 0 ELSE greatest(n."end" - n.start, 0) END AS dur_ns,
       pid_of(n.globalTid) AS pid, tid_of(n.globalTid) AS tid,
       CASE WHEN coalesce(n.domainId, 0) <> 0
            THEN coalesce(dm.domain_name, 'domain' || n.domainId) END AS domain,
       n._bytes AS bytes,
       CASE WHEN n.category IS NOT NULL
                 OR coalesce(n.int64Value, n.uint64Value, n.int32Value, n.uint32Value) IS NOT NULL
                 OR coalesce(n.doubleValue, n.floatValue) IS NOT NULL
                 OR coalesce(n.jsonText, j.value) IS NOT NULL
            THEN json_object('category', n.category,
                             'payload', coalesce(n.int64Value, n.uint64Value, n.int32Value,
                                                 n.uint32Value),
                             'payload double', coalesce(n.doubleValue, n.floatValue),
                             'payload json', coalesce(n.jsonText, j.value)) END AS args
FROM nvtx_raw n
LEFT JOIN strings s ON s.id = n.textId
LEFT JOIN strings j ON j.id = n.jsonTextId
LEFT JOIN domains dm
       ON dm._proc = proc_of(n.globalTid) AND dm.domainId = n.domainId
WHERE n.eventType = 34 OR (n.eventType IN (59, 60) AND n."end" IS NOT NULL)
"""

# A graph node's creation or clone (CUDA_GRAPH_NODE_EVENTS): the API call's thread and time,
# with the node ids under the names Kineto gives a graph kernel's ('graph node id').
GRAPH_NODES = """
CREATE VIEW graph_node_ev AS
SELECT proc_of(g.globalTid) AS _proc, g._ord AS event_id,
       'cuda_graph_node' AS kind, 'CUDA_GRAPH_NODE_EVENTS' AS cat, n.api AS name,
       report_ns(g.start) AS abs_ns, greatest(g."end" - g.start, 0) AS dur_ns,
       pid_of(g.globalTid) AS pid, tid_of(g.globalTid) AS tid,
       json_object('graph node id', g.graphNodeId,
                   'original graph node id', g.originalGraphNodeId) AS args
FROM graph_node_raw g LEFT JOIN strings n ON n.id = g.nameId
"""

THREAD_NAMES = """
INSERT INTO th
SELECT proc_of(t.globalTid), pid_of(t.globalTid), tid_of(t.globalTid), s.value
FROM thread_raw t JOIN strings s ON s.id = t.nameId
"""

PROCESS_NAMES = """
INSERT INTO th
SELECT proc_of(p.globalPid), coalesce(p.pid, pid_of(p.globalPid)), NULL, p.name
FROM process_raw p WHERE p.name IS NOT NULL
"""

GPU_PROCESSES = """
SELECT _proc, list(DISTINCT device ORDER BY device) AS devices, count(*) AS kernels
FROM ev WHERE kind = 'kernel' GROUP BY _proc ORDER BY _proc NULLS LAST
"""
