"""The Nsight Systems export tables tracekit reads: each column, its type and its rules.

Columns are read by name (see ``nsys_sqlite``); a column marked ``needed`` must
exist when its table does (nsys has written it in every schema version, so
its absence means a renamed or edited export), ``not_null`` ones hold a value
in every row. Times are integer ns on the report's clock, at most
:data:`MAX_NS` (2^62, about 146 years; the UTC epoch plus a time then still
fits an int64), and an ``end`` is never before its ``start``.
"""

from __future__ import annotations

import pyarrow as pa

from tracekit.ingest.nsys_sqlite import Field

I64, F64, STR, BIN = pa.int64(), pa.float64(), pa.string(), pa.binary()
MAX_NS = 1 << 62
MAX_DEVICE = (1 << 31) - 1
# All events of one export lie within this span (an nsys session lasts hours, not weeks).
MAX_SPAN_NS = 7 * 24 * 3600 * 10**9

START = Field("start", I64, needed=True, not_null=True, low=0, high=MAX_NS)
END = Field("end", I64, needed=True, not_null=True, low=0, high=MAX_NS, after="start")
DEVICE = Field("deviceId", I64, needed=True, not_null=True, low=0, high=MAX_DEVICE)


def _ints(names: str) -> list[Field]:
    return [Field(name, I64) for name in names.split()]


KERNEL = [START, END, DEVICE, *_ints("streamId correlationId globalPid demangledName shortName")]
# graphId and graphNodeId are set on kernels of a CUDA graph replay (NULL otherwise).
KERNEL += _ints("graphId graphNodeId")
RUNTIME = [
    START,
    END,
    Field("eventClass", I64),
    Field("globalTid", I64, needed=True),
    Field("correlationId", I64),
    Field("nameId", I64, needed=True, not_null=True),
    Field("returnValue", I64),
]
MEMCPY = [START, END, DEVICE, *_ints("streamId correlationId globalPid bytes")]
MEMCPY += [Field("copyKind", I64, low=0, high=MAX_DEVICE), *_ints("srcKind dstKind")]
MEMSET = [START, END, DEVICE, *_ints("streamId correlationId globalPid bytes value")]
# end is NULL for marks (eventType 34) and for ranges that never ended.
NVTX = [
    START,
    Field("end", I64, needed=True, low=0, high=MAX_NS, after="start"),
    Field("eventType", I64, needed=True, not_null=True),
    Field("category", I64),
    Field("globalTid", I64, needed=True),
    Field("text", STR, needed=True),
    *_ints("textId domainId int64Value uint64Value int32Value uint32Value jsonTextId"),
    Field("doubleValue", F64),
    Field("floatValue", F64),
    Field("jsonText", STR),
]
NVTX_BLOB = Field("binaryData", BIN)
# A graph node created (stream capture, cudaGraphAdd*Node) or cloned (instantiation:
# originalGraphNodeId names the node it copies), with the thread and time of the call;
# written with --cuda-graph-trace=node.
GRAPH_NODES = [
    START,
    END,
    Field("globalTid", I64, needed=True),
    Field("nameId", I64, needed=True, not_null=True),
    Field("graphNodeId", I64, needed=True, not_null=True),
    Field("originalGraphNodeId", I64),
]
STRINGS = [Field("id", I64, needed=True, not_null=True), Field("value", STR, needed=True)]
THREADS = [
    Field("nameId", I64, needed=True, not_null=True),
    Field("globalTid", I64, needed=True, not_null=True),
]
PROCESSES = [
    Field("globalPid", I64, needed=True, not_null=True),
    Field("pid", I64),
    Field("name", STR, needed=True),
]
SESSION = [Field("startTime", I64, low=0, high=MAX_NS)]
SESSION_UTC = [
    Field("utcEpochNs", I64, low=0, high=MAX_NS),
    Field("systemClockNs", I64, low=0, high=MAX_NS),
]
GPUS = [Field("id", I64, low=0, high=MAX_DEVICE), Field("name", STR)]
PAYLOAD_ENTRIES = [
    Field("domainId", I64),
    Field("schemaId", I64),
    Field("offset", I64, low=0, high=MAX_DEVICE),
    Field("name", STR),
]

# (table, fields, columns holding StringIds ids): the event tables, in event_id order.
EVENT_TABLES = (
    ("CUPTI_ACTIVITY_KIND_KERNEL", KERNEL, ("demangledName", "shortName")),
    ("CUPTI_ACTIVITY_KIND_RUNTIME", RUNTIME, ("nameId",)),
    ("CUPTI_ACTIVITY_KIND_MEMCPY", MEMCPY, ()),
    ("CUPTI_ACTIVITY_KIND_MEMSET", MEMSET, ()),
    ("NVTX_EVENTS", NVTX, ("textId", "jsonTextId")),
    ("CUDA_GRAPH_NODE_EVENTS", GRAPH_NODES, ("nameId",)),
)
