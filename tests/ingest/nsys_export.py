"""Build small Nsight Systems SQLite exports for tests, following the documented layout."""

from __future__ import annotations

import sqlite3
import struct
from dataclasses import dataclass, field
from pathlib import Path

VM = 1 << 48  # hardware/VM bits as seen in real globalTids
T0 = 1_000_000_000  # session start on the report clock (ANALYSIS_DETAILS.startTime)
UTC = 1_700_000_000_000_000_000  # TARGET_INFO_SESSION_START_TIME.utcEpochNs
NCCL_SCHEMA = (1 << 24) + 6
FAKE_TOKEN = "hf_FAKEtestTOKEN0123456789abcdef"

DDL = """
CREATE TABLE StringIds (id INTEGER NOT NULL PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE META_DATA_EXPORT (name TEXT, value TEXT);
CREATE TABLE META_DATA_CAPTURE (name TEXT, value TEXT);
CREATE TABLE ANALYSIS_DETAILS (globalVid INTEGER, duration INTEGER, startTime INTEGER,
    stopTime INTEGER);
CREATE TABLE TARGET_INFO_SESSION_START_TIME (utcEpochNs INTEGER, utcTime TEXT,
    localTime TEXT, systemClockNs INTEGER);
CREATE TABLE TARGET_INFO_SYSTEM_ENV (globalVid INTEGER, devStateName TEXT NOT NULL,
    name TEXT NOT NULL, nameEnum INTEGER NOT NULL, value TEXT NOT NULL);
CREATE TABLE TARGET_INFO_GPU (id INTEGER, name TEXT);
CREATE TABLE PROCESSES (globalPid INTEGER, pid INTEGER, name TEXT);
CREATE TABLE ThreadNames (nameId INTEGER NOT NULL, priority INTEGER, globalTid INTEGER);
CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER NOT NULL, end INTEGER NOT NULL,
    deviceId INTEGER NOT NULL, contextId INTEGER NOT NULL, streamId INTEGER NOT NULL,
    correlationId INTEGER, globalPid INTEGER, demangledName INTEGER NOT NULL,
    shortName INTEGER NOT NULL, gridX INTEGER, gridY INTEGER, gridZ INTEGER, blockX INTEGER,
    blockY INTEGER, blockZ INTEGER, registersPerThread INTEGER, staticSharedMemory INTEGER,
    dynamicSharedMemory INTEGER, graphId INTEGER, graphNodeId INTEGER);
CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INTEGER NOT NULL, end INTEGER NOT NULL,
    eventClass INTEGER NOT NULL, globalTid INTEGER, correlationId INTEGER,
    nameId INTEGER NOT NULL, returnValue INTEGER NOT NULL, callchainId INTEGER);
CREATE TABLE CUPTI_ACTIVITY_KIND_MEMCPY (start INTEGER NOT NULL, end INTEGER NOT NULL,
    deviceId INTEGER NOT NULL, contextId INTEGER NOT NULL, streamId INTEGER NOT NULL,
    correlationId INTEGER, globalPid INTEGER, bytes INTEGER NOT NULL, copyKind INTEGER NOT NULL,
    srcKind INTEGER, dstKind INTEGER);
CREATE TABLE CUPTI_ACTIVITY_KIND_MEMSET (start INTEGER NOT NULL, end INTEGER NOT NULL,
    deviceId INTEGER NOT NULL, contextId INTEGER NOT NULL, streamId INTEGER NOT NULL,
    correlationId INTEGER, globalPid INTEGER, value INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE TABLE NVTX_EVENTS (start INTEGER NOT NULL, end INTEGER, eventType INTEGER NOT NULL,
    rangeId INTEGER, category INTEGER, color INTEGER, text TEXT, globalTid INTEGER,
    endGlobalTid INTEGER, textId INTEGER, domainId INTEGER, uint64Value INTEGER,
    int64Value INTEGER, doubleValue REAL, uint32Value INTEGER, int32Value INTEGER,
    floatValue REAL, jsonTextId INTEGER, jsonText TEXT, binaryData TEXT);
CREATE TABLE NVTX_PAYLOAD_SCHEMA_ENTRIES (domainId INTEGER, schemaId INTEGER, idx INTEGER,
    flags INTEGER, type INTEGER, name TEXT, description TEXT, arrayOrUnionDetail INTEGER,
    offset INTEGER);
"""
# The nsys DDL of the graph-node table (nsys creates it only with --cuda-graph-trace=node).
GRAPH_NODE_DDL = """
CREATE TABLE CUDA_GRAPH_NODE_EVENTS (start INTEGER NOT NULL, end INTEGER NOT NULL,
    eventClass INTEGER NOT NULL, globalTid INTEGER, nameId INTEGER NOT NULL,
    graphNodeId INTEGER NOT NULL, originalGraphNodeId INTEGER);
"""


def gtid(pid: int, tid: int) -> int:
    return VM | (pid << 24) | tid


def nccl_blob(size: int, *, domain: int = 1, schema: int = NCCL_SCHEMA, offset: int = 0) -> bytes:
    """A payload blob: 32-byte header, then (comm id u64, message size u64, peer i32)."""
    payload = struct.pack("<QQi", 0xC0FFEE, size, 1)
    header = struct.pack("<QQQQ", domain, schema, len(payload) + offset, offset)
    return header + b"\0" * offset + payload


@dataclass
class Export:
    """Rows of a synthetic export; ``write`` creates the SQLite file."""

    strings: dict[str, int] = field(default_factory=dict)
    kernels: list[tuple] = field(default_factory=list)
    runtime: list[tuple] = field(default_factory=list)
    nvtx: list[tuple] = field(default_factory=list)
    memcpy: list[tuple] = field(default_factory=list)
    memset: list[tuple] = field(default_factory=list)
    threads: list[tuple] = field(default_factory=list)
    graph_nodes: list[tuple] = field(default_factory=list)
    processes: list[tuple] = field(default_factory=list)
    environment: str = f"PATH=/usr/bin;NCCL_DEBUG=INFO;HF_TOKEN={FAKE_TOKEN}"
    next_corr: int = 1

    def sid(self, text: str) -> int:
        return self.strings.setdefault(text, len(self.strings) + 1)

    def process(self, pid: int, name: str = "python3") -> None:
        self.processes.append((VM | (pid << 24), pid, name))
        self.threads.append((self.sid(name), 0, gtid(pid, pid)))

    def launch(
        self,
        pid: int,
        tid: int,
        t: int,
        kernel: str,
        device: int,
        stream: int = 7,
        dur: int = 1000,
        api: str = "cudaLaunchKernel_v7000",
        start: int | None = None,
        graph: tuple[int, int] | None = None,
        corr: int | None = None,
    ) -> int:
        """A runtime call at t (50 ns) launching ``kernel`` at ``start`` (default t + 100);
        returns the correlation id. ``graph`` (graph id, graph node id) makes the kernel one
        of a graph replay; with ``corr`` (the graph launch's) no runtime call is added."""
        if corr is None:
            corr = self.next_corr
            self.next_corr += 1
            self.runtime.append((t, t + 50, 0, gtid(pid, tid), corr, self.sid(api), 0))
        begin = t + 100 if start is None else start
        self.kernels.append(
            (
                begin,
                begin + dur,
                device,
                1,
                stream,
                corr,
                VM | (pid << 24),
                self.sid(kernel),
                self.sid(kernel.split("(")[0]),
                4,
                1,
                1,
                128,
                1,
                1,
                32,
                0,
                0,
                *(graph or (None, None)),
            )
        )
        return corr

    def call(self, pid: int, tid: int, t: int, api: str) -> int:
        """A runtime call at t (50 ns) that launches nothing itself (cudaGraphLaunch, a
        launch into a capturing stream); returns its correlation id."""
        corr = self.next_corr
        self.next_corr += 1
        self.runtime.append((t, t + 50, 0, gtid(pid, tid), corr, self.sid(api), 0))
        return corr

    def graph_node(
        self, pid: int, tid: int, t: int, node: int, original: int | None = None, api: str = ""
    ) -> None:
        """A CUDA_GRAPH_NODE_EVENTS row: ``node`` created at t (a clone of ``original``)."""
        name = api or ("cudaGraphInstantiate_v12000" if original else "cudaLaunchKernel_v7000")
        self.graph_nodes.append((t, t + 10, 0, gtid(pid, tid), self.sid(name), node, original))

    def range(
        self,
        pid: int,
        tid: int,
        start: int,
        end: int,
        name: str,
        *,
        domain: int = 0,
        registered: bool = False,
        blob: bytes | None = None,
        event_type: int = 59,
    ) -> None:
        text, text_id = (None, self.sid(name)) if registered else (name, None)
        self.nvtx.append((start, end, event_type, text, gtid(pid, tid), text_id, domain, blob))

    def domain(self, pid: int, domain: int, name: str) -> None:
        self.nvtx.append((T0, None, 75, name, gtid(pid, pid), None, domain, None))

    def write(self, path: Path, *, with_meta: bool = True) -> Path:
        con = sqlite3.connect(path)
        con.executescript(DDL)
        con.executemany(
            "INSERT INTO StringIds VALUES (?, ?)", [(i, s) for s, i in self.strings.items()]
        )
        if with_meta:
            con.executemany(
                "INSERT INTO META_DATA_EXPORT VALUES (?, ?)",
                [("EXPORT_PRODUCT_VERSION", "2099.1.1"), ("EXPORT_SCHEMA_VERSION", "3.99.0")],
            )
            con.execute(
                "INSERT INTO ANALYSIS_DETAILS VALUES (?, ?, ?, ?)", (VM, 10**10, T0, T0 + 10**10)
            )
            con.execute(
                "INSERT INTO TARGET_INFO_SESSION_START_TIME VALUES (?, '', '', ?)", (UTC, T0)
            )
            con.executemany(
                "INSERT INTO TARGET_INFO_SYSTEM_ENV VALUES (?, 'Local', ?, ?, ?)",
                [(VM, "DeviceEnvironment", 610, self.environment), (VM, "Hostname", 619, "node7")],
            )
            con.executemany(
                "INSERT INTO TARGET_INFO_GPU VALUES (?, ?)",
                [(0, "NVIDIA H100"), (1, "NVIDIA H100")],
            )
            con.executemany(
                "INSERT INTO NVTX_PAYLOAD_SCHEMA_ENTRIES VALUES "
                "(1, ?, ?, NULL, ?, ?, NULL, NULL, ?)",
                [
                    (NCCL_SCHEMA, 0, 18, "NCCL communicator ID", None),
                    (NCCL_SCHEMA, 1, 22, "Message size [bytes]", 8),
                    (NCCL_SCHEMA, 2, 5, "Peer rank", 16),
                ],
            )
        con.executemany("INSERT INTO PROCESSES VALUES (?, ?, ?)", self.processes)
        con.executemany("INSERT INTO ThreadNames VALUES (?, ?, ?)", self.threads)
        con.executemany(
            f"INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES ({','.join('?' * 20)})", self.kernels
        )
        if self.graph_nodes:
            con.execute(GRAPH_NODE_DDL)
            con.executemany(
                "INSERT INTO CUDA_GRAPH_NODE_EVENTS VALUES (?,?,?,?,?,?,?)", self.graph_nodes
            )
        con.executemany(
            "INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (?,?,?,?,?,?,?,NULL)", self.runtime
        )
        con.executemany(
            "INSERT INTO NVTX_EVENTS (start, end, eventType, text, globalTid, textId, domainId,"
            " binaryData) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            self.nvtx,
        )
        con.executemany(
            "INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY VALUES (?,?,?,1,?,?,?,?,?,0,2)", self.memcpy
        )
        con.executemany(
            "INSERT INTO CUPTI_ACTIVITY_KIND_MEMSET VALUES (?,?,?,1,?,?,?,0,?)", self.memset
        )
        con.commit()
        con.close()
        return path


def two_process_export() -> Export:
    """Two processes (pid 100 on GPU 0, pid 200 on GPU 1), NVTX layers and NCCL ranges.

    Process 100 names NVTX domain 1 'NCCL' (eventType 75); process 200 lacks the
    domain-create row, so its domain 1 must read 'domain1'.
    """
    ex = Export()
    for pid, device in ((100, 0), (200, 1)):
        ex.process(pid)
        ex.threads.append((ex.sid("worker"), 0, gtid(pid, pid + 1)))
        base = T0 + 1_000_000
        ex.range(pid, pid, base, base + 100_000, "step 0")
        ex.range(pid, pid, base + 1_000, base + 40_000, "layer 0", registered=True)
        ex.launch(pid, pid, base + 2_000, "void gemm_kernel<float>(float*)", device)
        ex.range(
            pid,
            pid,
            base + 50_000,
            base + 60_000,
            "ncclAllReduce",
            domain=1,
            registered=True,
            blob=nccl_blob(4096),
        )
        ex.launch(
            pid,
            pid,
            base + 51_000,
            "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)",
            device,
            stream=9,
            dur=20_000,
        )
        ex.nvtx.append((base + 70_000, None, 34, "a mark", gtid(pid, pid), None, 0, None))
        ex.memcpy.append(
            (base + 80_000, base + 81_000, device, 7, None, VM | (pid << 24), 1 << 20, 1)
        )
        ex.memset.append((base + 82_000, base + 82_500, device, 7, None, VM | (pid << 24), 256))
    ex.domain(100, 1, "NCCL")
    return ex


def synthetic_export(path: Path, kernels: int) -> Path:
    """A large export: ``kernels`` kernels with their runtime launches in two processes
    (pids 100 and 200 on GPUs 0 and 1) and one NVTX range per 10 kernels, written in bulk."""
    ex = Export()
    ex.process(100)
    ex.process(200)
    names = [ex.sid(f"void kernel_{i}<float>(float*)") for i in range(64)]
    launch = ex.sid("cudaLaunchKernel_v7000")
    ex.write(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")

    def pid(i: int) -> int:
        return 100 if i % 2 == 0 else 200

    con.executemany(
        f"INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES ({','.join('?' * 18)}, NULL, NULL)",
        (
            (
                T0 + 1000 * i + 100,
                T0 + 1000 * i + 900,
                i % 2,
                1,
                7,
                i + 1,
                VM | (pid(i) << 24),
                names[i % 64],
                names[i % 64],
                4,
                1,
                1,
                128,
                1,
                1,
                32,
                0,
                0,
            )
            for i in range(kernels)
        ),
    )
    con.executemany(
        "INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (?,?,0,?,?,?,0,NULL)",
        (
            (T0 + 1000 * i, T0 + 1000 * i + 50, gtid(pid(i), pid(i)), i + 1, launch)
            for i in range(kernels)
        ),
    )
    con.executemany(
        "INSERT INTO NVTX_EVENTS (start, end, eventType, text, globalTid, domainId) "
        "VALUES (?, ?, 59, 'layer', ?, 0)",
        (
            (T0 + 1000 * i, T0 + 1000 * i + 20_000, gtid(pid(i), pid(i)))
            for i in range(0, kernels, 10)
        ),
    )
    con.commit()
    con.close()
    return path
