"""Read Nsight Systems reports (SQLite exports, or ``.nsys-rep`` via ``nsys export``).

A report becomes one :class:`ParsedTrace` per process that ran GPU work
(kernels); a process that used several GPUs stays one trace (one rank) whose
events carry their ``device``, so per-GPU figures still come out per device.
Tables are read in bulk into Arrow (``nsys_sqlite``) and shaped by DuckDB SQL
(``nsys_sql``) in a reader-local in-memory database; see docs/nsys.md.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from tracekit.collect.nsys_cmd import export_argv, locate_nsys
from tracekit.errors import InputError
from tracekit.ingest import nsys_sql
from tracekit.ingest.discover import Source
from tracekit.ingest.loader import ParsedTrace
from tracekit.ingest.nsys_env import RankMap, mapped_rank, safe_env
from tracekit.ingest.nsys_payload import MESSAGE_SIZE_ENTRY, message_sizes
from tracekit.ingest.nsys_sqlite import ExportTables
from tracekit.resources import queries_dir

I64, F64, STR, BIN = pa.int64(), pa.float64(), pa.string(), pa.binary()
KERNEL_FIELDS = [
    (c, I64)
    for c in "start end deviceId streamId correlationId globalPid demangledName shortName".split()
]
RUNTIME_FIELDS = [
    (c, I64) for c in "start end eventClass globalTid correlationId nameId returnValue".split()
]
MEMCPY_FIELDS = [
    (c, I64)
    for c in (
        "start end deviceId streamId correlationId globalPid bytes copyKind srcKind dstKind"
    ).split()
]
MEMSET_FIELDS = [
    (c, I64) for c in "start end deviceId streamId correlationId globalPid bytes value".split()
]
NVTX_FIELDS = [
    *[(c, I64) for c in "start end eventType category globalTid textId domainId".split()],
    ("text", STR),
    *[(c, I64) for c in "int64Value uint64Value int32Value uint32Value jsonTextId".split()],
    ("doubleValue", F64),
    ("floatValue", F64),
    ("jsonText", STR),
]
KEPT_SYSTEM = ("Hostname", "NvDriverVersion", "CudaDriverVersion", "OsDescription")
CHUNK_ROWS = 1 << 17
READ_THREADS = max(2, min(8, os.cpu_count() or 2))


def export_report(report: Path, sha256: str) -> Path:
    """Export ``report`` (.nsys-rep) to SQLite in the cache, once per content hash."""
    cache = Path(os.environ.get("TRACEKIT_CACHE", Path.home() / ".cache" / "tracekit")) / "nsys"
    target = cache / f"{sha256}.sqlite"
    if target.is_file():
        return target
    nsys = locate_nsys()
    if nsys is None:
        raise InputError(
            f"{report}: an .nsys-rep report needs Nsight Systems' `nsys` to read, and it is not "
            "on PATH (nor in /opt/nvidia/nsight-systems*/bin or /usr/local/cuda*/bin)",
            f"Export it where nsys is installed and import the .sqlite file: nsys export --type "
            f"sqlite --include-blobs=true --output {report.with_suffix('.sqlite').name} "
            f"{report.name}",
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        out = Path(tmp) / "export.sqlite"
        done = subprocess.run(export_argv(report, nsys, output=out), capture_output=True, text=True)
        if done.returncode != 0 or not out.is_file():
            raise InputError(
                f"{report}: `nsys export` failed (exit {done.returncode})",
                (done.stderr or done.stdout).strip()[-2000:] or None,
            )
        out.replace(target)
    return target


class _Report:
    """One export read into a local DuckDB: view ``ev`` (events) and table ``th`` (threads)."""

    def __init__(self, path: Path, on_progress: Callable[[int], None]) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.tables = ExportTables(path)
        self.db = duckdb.connect()
        self.db.execute((queries_dir() / "schema" / "03_events.sql").read_text())
        self.db.execute(nsys_sql.CREATE_EV)
        self.on_progress = on_progress
        self.next_id = 0
        self.parts: list[str] = []

    def check(self) -> None:
        t = self.tables
        if not (
            t.has("StringIds")
            and (
                t.has("META_DATA_EXPORT")
                or t.has("NVTX_EVENTS")
                or t.has("CUPTI_ACTIVITY_KIND_RUNTIME")
            )
        ):
            raise InputError(
                f"{self.path}: an SQLite file, but not an Nsight Systems export "
                "(no StringIds, META_DATA_EXPORT, CUPTI or NVTX tables)",
                "Export a report with `nsys export --type sqlite REPORT.nsys-rep`.",
            )
        if (
            not t.has("CUPTI_ACTIVITY_KIND_KERNEL", "start")
            or not t.con.execute("SELECT 1 FROM CUPTI_ACTIVITY_KIND_KERNEL LIMIT 1").fetchall()
        ):
            raise InputError(
                f"{self.path}: the capture holds no CUDA kernels",
                "Profile with CUDA tracing on (`nsys profile -t cuda,nvtx ...`) and make sure "
                "the profiled range includes GPU work.",
            )

    def meta(self, table: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.tables.pairs(table, "name", "value")}

    def time_base(self) -> tuple[int, int]:
        """(t0, utc): session start on the report clock and its UTC epoch ns (0 if unknown)."""
        con = self.tables.con
        t0 = utc = 0
        if self.tables.has("ANALYSIS_DETAILS", "startTime"):
            row = con.execute("SELECT min(startTime) FROM ANALYSIS_DETAILS").fetchone()
            t0 = int(row[0]) if row and row[0] is not None else 0
        if self.tables.has("TARGET_INFO_SESSION_START_TIME", "utcEpochNs"):
            cols = self.tables.columns["TARGET_INFO_SESSION_START_TIME"]
            clock = "systemClockNs" if "systemClockNs" in cols else "NULL"
            row = con.execute(
                f"SELECT utcEpochNs, {clock} FROM TARGET_INFO_SESSION_START_TIME LIMIT 1"
            ).fetchone()
            if row and row[0] is not None:
                utc = int(row[0])
                if not t0 and row[1] is not None:
                    t0 = int(row[1])
        return t0, utc

    def _load(self, raw: pa.Table, sql: str, params: dict, nvtx_bytes: bool = False) -> None:
        """Add a view over ``raw`` shaped by ``sql`` to the parts of ``ev``.

        Rows are shaped when ``chunks`` reads them, once, with no table in between.
        """
        if nvtx_bytes:
            self.db.register("sizes", self._message_sizes())
            self.db.register("plain", raw)
            raw = self.db.sql(
                "SELECT p.*, s._bytes FROM plain p LEFT JOIN sizes s USING (_ord)"
            ).to_arrow_table()
        name = f"part{len(self.parts)}"
        self.db.register(f"{name}_raw", raw)
        body = sql.replace("FROM raw", f"FROM {name}_raw")
        for key, value in (params | {"first": self.next_id}).items():
            body = body.replace(f"${key}", str(int(value)))
        self.db.execute(f"CREATE VIEW {name} AS {body}")
        self.parts.append(name)
        self.next_id += (pc.max(raw["_ord"]).as_py() or 0) + 1 if raw.num_rows else 0
        self.on_progress(min(self.size, self.size * self.next_id // max(self._total, 1)))

    def _union(self) -> None:
        """``ev``: the parts, cast to the columns of ``ev_empty`` that some part fills.

        The others (Kineto's collective args, ...) are left out: the loader stores
        them as NULL without a column of NULLs to carry.
        """
        filled = {
            row[0] for name in self.parts for row in self.db.execute(f"DESCRIBE {name}").fetchall()
        }
        columns = [c for c in self.db.execute("DESCRIBE ev_empty").fetchall() if c[0] in filled]
        cells = ", ".join(f'CAST("{c[0]}" AS {c[1]}) AS "{c[0]}"' for c in columns)
        union = " UNION ALL BY NAME ".join(
            f"SELECT * FROM {name}" for name in ("ev_empty", *self.parts)
        )
        self.db.execute(f"CREATE VIEW ev AS SELECT {cells} FROM ({union})")

    def _size_offsets(self) -> dict[int, int]:
        if not self.tables.has("NVTX_PAYLOAD_SCHEMA_ENTRIES", "offset"):
            return {}
        rows = self.tables.con.execute(
            "SELECT schemaId, coalesce(offset, 0) FROM NVTX_PAYLOAD_SCHEMA_ENTRIES WHERE name = ?",
            [MESSAGE_SIZE_ENTRY],
        ).fetchall()
        return {int(s): int(o) for s, o in rows if s is not None}

    def load(self) -> None:
        t = self.tables
        self._total = sum(
            t.con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            for name in (
                "CUPTI_ACTIVITY_KIND_KERNEL",
                "CUPTI_ACTIVITY_KIND_RUNTIME",
                "CUPTI_ACTIVITY_KIND_MEMCPY",
                "CUPTI_ACTIVITY_KIND_MEMSET",
                "NVTX_EVENTS",
            )
            if t.has(name)
        )
        strings = t.read("StringIds", [("id", I64), ("value", STR)])
        self.db.register("strings_arrow", strings)
        self.db.execute(nsys_sql.STRINGS)
        self.db.unregister("strings_arrow")
        t0, utc = self.time_base()
        params = {"t0": t0, "utc": utc}
        jobs = [
            ("CUPTI_ACTIVITY_KIND_KERNEL", KERNEL_FIELDS, nsys_sql.KERNELS),
            ("CUPTI_ACTIVITY_KIND_RUNTIME", RUNTIME_FIELDS, nsys_sql.RUNTIME),
            ("CUPTI_ACTIVITY_KIND_MEMCPY", MEMCPY_FIELDS, nsys_sql.MEMCPY),
            ("CUPTI_ACTIVITY_KIND_MEMSET", MEMSET_FIELDS, nsys_sql.MEMSET),
            ("NVTX_EVENTS", NVTX_FIELDS, nsys_sql.NVTX),
        ]
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            reads = [t.read_async(table, fields, pool=pool) for table, fields, _ in jobs]
            for (table, _fields, sql), collect in zip(jobs, reads, strict=True):
                self._load(collect(), sql, params, nvtx_bytes=table == "NVTX_EVENTS")
        self._union()
        for table, fields, sql in (
            ("ThreadNames", [("nameId", I64), ("globalTid", I64)], nsys_sql.THREAD_NAMES),
            (
                "PROCESSES",
                [("globalPid", I64), ("pid", I64), ("name", STR)],
                nsys_sql.PROCESS_NAMES,
            ),
        ):
            self.db.register("raw", t.read(table, fields))
            self.db.execute(sql)
            self.db.unregister("raw")

    def _message_sizes(self) -> pa.Table:
        """(_ord, _bytes): message sizes decoded from the NVTX rows that carry a blob."""
        empty = pa.table({"_ord": pa.array([], I64), "_bytes": pa.array([], I64)})
        offsets = self._size_offsets()
        if not offsets or not self.tables.has("NVTX_EVENTS", "binaryData"):
            return empty
        rows = self.tables.con.execute(
            'SELECT rowid, CAST("binaryData" AS BLOB) FROM NVTX_EVENTS '
            'WHERE "binaryData" IS NOT NULL'
        ).fetchall()
        if not rows:
            return empty
        ords, blobs = zip(*rows, strict=True)
        sizes = message_sizes(pa.array(blobs, BIN), offsets)
        return pa.table({"_ord": pa.array(ords, I64), "_bytes": sizes})

    def gpu_processes(self) -> list[tuple[int | None, list[int], int]]:
        return [tuple(r) for r in self.db.execute(nsys_sql.GPU_PROCESSES).fetchall()]

    def chunks(self, proc: int | None) -> Iterator[tuple[pa.Table, pa.Table]]:
        threads = self.db.sql(
            "SELECT DISTINCT pid, tid, name FROM th WHERE _proc IS NOT DISTINCT FROM $p",
            params={"p": proc},
        ).to_arrow_table()
        events = self.db.sql(
            "SELECT * EXCLUDE (_proc) FROM ev WHERE _proc IS NOT DISTINCT FROM $p",
            params={"p": proc},
        ).to_arrow_reader(CHUNK_ROWS)
        for batch in events:
            yield pa.Table.from_batches([batch]), threads
            threads = threads.slice(0, 0)
        if threads.num_rows:
            yield events.schema.empty_table(), threads


def read_nsys(
    source: Source,
    sha256: str,
    on_progress: Callable[[int], None],
    *,
    rank_map: RankMap | None = None,
) -> list[ParsedTrace]:
    """One ParsedTrace per process with GPU work in the report at ``source.path``."""
    path = source.path
    export = export_report(path, sha256) if path.suffix == ".nsys-rep" else path
    try:
        report = _Report(export, on_progress)
        report.check()
        report.load()
        return _traces(source, sha256, report, rank_map or {})
    except sqlite3.DatabaseError as exc:
        raise InputError(
            f"{path}: the SQLite export is truncated or damaged ({exc})",
            "Export the report again: nsys export --type sqlite --include-blobs=true ...",
        ) from exc


def _traces(source: Source, sha256: str, report: _Report, rank_map: RankMap) -> list[ParsedTrace]:
    gpus = report.gpu_processes()
    firsts = dict(report.db.execute("SELECT _proc, min(abs_ns) FROM ev GROUP BY _proc").fetchall())
    system = report.meta("TARGET_INFO_SYSTEM_ENV")
    env_rows = [
        v
        for k, v in report.tables.pairs("TARGET_INFO_SYSTEM_ENV", "name", "value")
        if k == "DeviceEnvironment"
    ]
    env_rows += [
        v
        for _k, v in report.tables.pairs("META_DATA_CAPTURE", "name", "value")
        if isinstance(v, str) and "=" in v
    ]
    env = safe_env([str(v) for v in env_rows])
    export_meta = report.meta("META_DATA_EXPORT")
    names = dict(
        report.db.execute(
            "SELECT _proc, any_value(name) FROM th WHERE tid IS NULL GROUP BY ALL"
        ).fetchall()
    )
    gpu_names = _gpu_names(report)
    t0, utc = report.time_base()
    ranks: dict[Any, tuple[int | None, str | None]] = {}
    for proc, _devices, _n in gpus:
        pid = proc & 0xFFFFFF if proc is not None else -1
        rank = mapped_rank(rank_map, source.path.name, pid)
        ranks[proc] = (rank, "option" if rank is not None else None)
    if len(gpus) == 1 and ranks[gpus[0][0]][0] is None and env.get("RANK", "").isdigit():
        ranks[gpus[0][0]] = (int(env["RANK"]), "environment")
    if len(gpus) > 1 and any(r is None for r, _ in ranks.values()):
        listing = ", ".join(
            f"pid {p & 0xFFFFFF if p is not None else '?'} on GPU {','.join(map(str, d))}"
            for p, d, _n in gpus
        )
        example = ",".join(
            f"{p & 0xFFFFFF if p is not None else 0}={i}" for i, (p, _d, _n) in enumerate(gpus)
        )
        raise InputError(
            f"{source.path}: the report holds {len(gpus)} processes with GPU work ({listing}) "
            "and does not say which rank each is",
            f"Map them with --rank-map '{source.path.name}:{example}' (PID=RANK for each).",
        )
    world = int(env["WORLD_SIZE"]) if env.get("WORLD_SIZE", "").isdigit() else None
    traces = []
    for proc, devices, kernels in gpus:
        rank, rank_source = ranks[proc]
        meta = {
            "nsys_version": export_meta.get("EXPORT_PRODUCT_VERSION"),
            "export_schema_version": export_meta.get("EXPORT_SCHEMA_VERSION"),
            "process_name": names.get(proc),
            "devices": devices,
            "kernels": kernels,
            "session_start_ns": t0,
            "session_start_utc_ns": utc or None,
            "system": {k: system[k] for k in KEPT_SYSTEM if k in system},
            "environment": env,
        }
        traces.append(
            ParsedTrace(
                source=source,
                sha256=sha256,
                rank=rank,
                rank_source=rank_source,
                world_size=world,
                backend=None,
                host=system.get("Hostname"),
                process_id=proc & 0xFFFFFF if proc is not None else None,
                gpu_names=[gpu_names[d] for d in devices if d in gpu_names]
                or sorted(set(gpu_names.values())),
                source_meta={k: v for k, v in meta.items() if v not in (None, {}, [])},
                chunks=report.chunks(proc),
                first_ns=firsts.get(proc),
            )
        )
    return traces


def _gpu_names(report: _Report) -> dict[int, str]:
    return {
        int(i): str(n)
        for i, n in report.tables.pairs("TARGET_INFO_GPU", "id", "name")
        if i is not None and n is not None
    }
