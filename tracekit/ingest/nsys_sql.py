"""DuckDB SQL that turns raw nsys tables (registered as Arrow) into ``events`` rows.

Each event statement selects from one raw table (``raw``, renamed per part) and
becomes a view; the reader's local view ``ev`` is their union, cast to the
columns of the empty table ``ev_empty``: the columns of ``events`` with
``abs_ns`` in place of ``ts_ns``, plus ``_proc`` (globalTid or globalPid >> 24:
hardware, VM and process id), which splits a report into processes. Rows are
shaped once, when the reader hands them out. ``$t0`` is the session start on
the report's clock and ``$utc`` the UTC epoch ns of that instant (0 when
unknown), so ``abs_ns = t - $t0 + $utc``. ``_ord`` numbers the rows of each
source table and ``$first`` offsets it, so ``event_id`` is unique within a
report; the reader writes these three integers into each view.
"""

from __future__ import annotations

PROC = "(({g}) >> 24)"
PID = "((({g}) >> 24) & 16777215)"
TID = "(({g}) & 16777215)"

CREATE_EV = """
CREATE TABLE ev_empty AS
SELECT CAST(NULL AS BIGINT) AS _proc, CAST(NULL AS BIGINT) AS abs_ns,
       * EXCLUDE (trace_id, ts_ns)
FROM events LIMIT 0;
CREATE TABLE th (_proc BIGINT, pid BIGINT, tid BIGINT, name VARCHAR);
"""

# Names are cleaned once per distinct string, not per row: `api` drops the runtime's
# `_v7000` version suffix, `driver` tells driver calls (cuLaunchKernel) from runtime ones.
STRINGS = """
CREATE TABLE strings AS
SELECT id, value, regexp_replace(value, '_v[0-9]+$', '') AS api,
       regexp_matches(value, '^cu[A-Z]') AS driver
FROM strings_arrow
"""

KERNELS = f"""
SELECT {PROC.format(g="k.globalPid")} AS _proc, $first + k._ord AS event_id,
       'kernel' AS kind, 'CUPTI_ACTIVITY_KIND_KERNEL' AS cat,
       coalesce(d.value, s.value) AS name, s.value AS short_name,
       k.start - $t0 + $utc AS abs_ns, greatest(k."end" - k.start, 0) AS dur_ns,
       k.deviceId AS device, k.streamId AS stream, k.correlationId AS correlation
FROM raw k
LEFT JOIN strings d ON d.id = k.demangledName
LEFT JOIN strings s ON s.id = k.shortName
"""

RUNTIME = f"""
SELECT {PROC.format(g="r.globalTid")} AS _proc, $first + r._ord AS event_id,
       CASE WHEN coalesce(r.eventClass = 1, n.driver) THEN 'cuda_driver' ELSE 'cuda_runtime'
       END AS kind,
       'CUPTI_ACTIVITY_KIND_RUNTIME' AS cat,
       n.api AS name,
       r.start - $t0 + $utc AS abs_ns, greatest(r."end" - r.start, 0) AS dur_ns,
       {PID.format(g="r.globalTid")} AS pid, {TID.format(g="r.globalTid")} AS tid,
       r.correlationId AS correlation,
       CASE WHEN r.returnValue <> 0 THEN json_object('return value', r.returnValue) END AS args
FROM raw r LEFT JOIN strings n ON n.id = r.nameId
"""

COPY_KINDS = (
    "['Unknown', 'HtoD', 'DtoH', 'HtoA', 'AtoH', 'AtoA', 'AtoD', 'DtoA', 'DtoD', 'HtoH', 'PtoP',"
    " 'UVM HtoD', 'UVM DtoH', 'UVM DtoD']"
)

MEMCPY = f"""
SELECT {PROC.format(g="m.globalPid")} AS _proc, $first + m._ord AS event_id,
       'gpu_memcpy' AS kind, 'CUPTI_ACTIVITY_KIND_MEMCPY' AS cat,
       'Memcpy ' || coalesce({COPY_KINDS}[m.copyKind + 1], 'kind ' || m.copyKind) AS name,
       m.start - $t0 + $utc AS abs_ns, greatest(m."end" - m.start, 0) AS dur_ns,
       m.deviceId AS device, m.streamId AS stream, m.correlationId AS correlation,
       m.bytes AS bytes,
       json_object('copy kind', m.copyKind, 'src kind', m.srcKind, 'dst kind', m.dstKind) AS args
FROM raw m
"""

MEMSET = f"""
SELECT {PROC.format(g="m.globalPid")} AS _proc, $first + m._ord AS event_id,
       'gpu_memset' AS kind, 'CUPTI_ACTIVITY_KIND_MEMSET' AS cat, 'Memset' AS name,
       m.start - $t0 + $utc AS abs_ns, greatest(m."end" - m.start, 0) AS dur_ns,
       m.deviceId AS device, m.streamId AS stream, m.correlationId AS correlation,
       m.bytes AS bytes, json_object('value', m.value) AS args
FROM raw m
"""

# NVTX eventType: 34 mark, 59 push/pop range, 60 start/end range, 75 domain create.
# cat tells them apart: start/end ranges need not nest (see annotation_ranges).
# Domain ids are per process: a domain is named by the eventType-75 row with the same
# domainId in the same process; without one it is 'domain<id>'. Domain 0 is the
# default domain (NULL, as for Kineto).
NVTX = f"""
WITH domains AS (
    SELECT {PROC.format(g="globalTid")} AS _proc, domainId, any_value(text) AS domain_name
    FROM raw WHERE eventType = 75 AND text IS NOT NULL GROUP BY ALL
)
SELECT {PROC.format(g="n.globalTid")} AS _proc, $first + n._ord AS event_id,
       CASE WHEN n.eventType = 34 THEN 'instant' ELSE 'user_annotation' END AS kind,
       CASE n.eventType WHEN 34 THEN 'nvtx_mark' WHEN 59 THEN 'nvtx_push_pop'
                        ELSE 'nvtx_start_end' END AS cat,
       coalesce(n.text, s.value) AS name,
       n.start - $t0 + $utc AS abs_ns,
       CASE WHEN n.eventType = 34 THEN 0 ELSE greatest(n."end" - n.start, 0) END AS dur_ns,
       {PID.format(g="n.globalTid")} AS pid, {TID.format(g="n.globalTid")} AS tid,
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
FROM raw n
LEFT JOIN strings s ON s.id = n.textId
LEFT JOIN strings j ON j.id = n.jsonTextId
LEFT JOIN domains dm
       ON dm._proc = {PROC.format(g="n.globalTid")} AND dm.domainId = n.domainId
WHERE n.eventType = 34 OR (n.eventType IN (59, 60) AND n."end" IS NOT NULL)
"""

THREAD_NAMES = f"""
INSERT INTO th
SELECT {PROC.format(g="t.globalTid")}, {PID.format(g="t.globalTid")},
       {TID.format(g="t.globalTid")}, s.value
FROM raw t JOIN strings s ON s.id = t.nameId
"""

PROCESS_NAMES = f"""
INSERT INTO th
SELECT {PROC.format(g="p.globalPid")}, coalesce(p.pid, {PID.format(g="p.globalPid")}), NULL,
       p.name
FROM raw p WHERE p.name IS NOT NULL
"""

GPU_PROCESSES = """
SELECT _proc, list(DISTINCT device ORDER BY device) AS devices, count(*) AS kernels
FROM ev WHERE kind = 'kernel' GROUP BY _proc ORDER BY _proc NULLS LAST
"""
