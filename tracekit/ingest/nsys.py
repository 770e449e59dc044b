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

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from tracekit import places
from tracekit.collect.nsys_cmd import export_argv, locate_nsys
from tracekit.errors import InputError
from tracekit.ingest import nsys_sql, nsys_tables
from tracekit.ingest.contract import Claim, EventChunk, ParsedTrace, Source
from tracekit.ingest.nsys_env import env_pairs, safe_env
from tracekit.ingest.nsys_payload import MESSAGE_SIZE_ENTRY, message_sizes
from tracekit.ingest.nsys_sqlite import EXPORT_AGAIN, REEXPORT, ExportTables, quote_ident
from tracekit.ingest.nsys_tables import EVENT_TABLES, MAX_NS, MAX_SPAN_NS
from tracekit.resources import queries_dir
from tracekit.secrets import looks_secret, redact_array

# What a profile needs of the target system: the host and the driver versions
# (not the OS description, the CPU list, ...), each dropped if it looks like a secret.
KEPT_SYSTEM = ("Hostname", "NvDriverVersion", "CudaDriverVersion")
CHUNK_ROWS = 1 << 17
READ_THREADS = max(2, min(8, os.cpu_count() or 2))
# The local view of each event table (nsys_sql) and the name its raw rows are registered as.
EVENT_VIEWS = {
    "CUPTI_ACTIVITY_KIND_KERNEL": ("kernel_raw", "kernel_ev", nsys_sql.KERNELS),
    "CUPTI_ACTIVITY_KIND_RUNTIME": ("runtime_raw", "runtime_ev", nsys_sql.RUNTIME),
    "CUPTI_ACTIVITY_KIND_MEMCPY": ("memcpy_raw", "memcpy_ev", nsys_sql.MEMCPY),
    "CUPTI_ACTIVITY_KIND_MEMSET": ("memset_raw", "memset_ev", nsys_sql.MEMSET),
    "NVTX_EVENTS": ("nvtx_raw", "nvtx_ev", nsys_sql.NVTX),
    "CUDA_GRAPH_NODE_EVENTS": ("graph_node_raw", "graph_node_ev", nsys_sql.GRAPH_NODES),
}
# A process name is its command's first word without the folder: never its arguments.
PROCESS_NAME = r"^\s*(?:\S*/)?(?P<name>[^\s/]+)"


def export_report(report: Path, sha256: str) -> Path:
    """Export ``report`` (.nsys-rep) to SQLite in the cache, once per content hash."""
    cache = places.cache_dir() / "nsys"
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
        places.remove_if_killed(Path(tmp))
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
    """One export read into a local DuckDB: view ``ev`` (events) and table ``th`` (threads).

    Each raw table is checked as it is read (``nsys_tables``) and across tables
    here: unique StringIds, every id a string, a span of at most a week.
    Credentials in names and NVTX text are redacted before anything is shaped.
    """

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
        self.t0 = self.utc = 0
        # (time, table, column, rowid) of each table's earliest and latest time
        self.bounds: list[tuple[int, str, str, int]] = []

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
        kernels = "CUPTI_ACTIVITY_KIND_KERNEL"
        if t.has(kernels) and not (t.has(kernels, "demangledName") or t.has(kernels, "shortName")):
            raise InputError(
                f"{self.path}: table {kernels} has neither a demangledName nor a shortName "
                "column, which Nsight Systems exports always have (renamed or dropped?)",
                REEXPORT,
            )
        if (
            not t.has(kernels)
            or not t.con.execute(f"SELECT 1 FROM {quote_ident(kernels)} LIMIT 1").fetchall()
        ):
            raise InputError(
                f"{self.path}: the capture holds no CUDA kernels",
                "Profile with CUDA tracing on (`nsys profile -t cuda,nvtx ...`) and make sure "
                "the profiled range includes GPU work.",
            )

    def meta(self, table: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.tables.pairs(table, "name", "value")}

    def _time_base(self) -> None:
        """t0 and utc: session start on the report clock and its UTC epoch ns (0 if unknown)."""
        session = self.tables.read("ANALYSIS_DETAILS", nsys_tables.SESSION)
        self.t0 = pc.min(session["startTime"]).as_py() or 0
        start = self.tables.read("TARGET_INFO_SESSION_START_TIME", nsys_tables.SESSION_UTC)
        if start.num_rows and start["utcEpochNs"][0].as_py() is not None:
            self.utc = start["utcEpochNs"][0].as_py()
            if not self.t0:
                self.t0 = start["systemClockNs"][0].as_py() or 0
        self.db.execute("SET VARIABLE t0 = ?", [self.t0])
        self.db.execute("SET VARIABLE utc = ?", [self.utc])

    def _strings(self) -> pa.Table:
        """StringIds with credentials redacted; each id once."""
        strings = self.tables.read("StringIds", nsys_tables.STRINGS)
        strings = strings.set_column(2, "value", redact_array(strings["value"]))
        self.db.register("strings_raw", strings)
        dup = self.db.execute(
            "SELECT id, count(*) FROM strings_raw GROUP BY id HAVING count(*) > 1 LIMIT 1"
        ).fetchone()
        if dup:
            raise InputError(
                f"{self.path}: table StringIds, column id: id {dup[0]} appears {dup[1]} times, "
                "where each id names one string",
                REEXPORT,
            )
        self.db.execute(nsys_sql.STRINGS)
        self.db.unregister("strings_raw")
        return strings

    def _check_ids(
        self, table: str, raw: pa.Table, columns: tuple[str, ...], ids: pa.Array
    ) -> None:
        for column in columns:
            values = raw[column]
            missing = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=ids)))
            if pc.any(missing).as_py():
                row = pc.index(missing, True).as_py()
                raise InputError(
                    f"{self.path}: table {table}, column {column}, row {raw['_ord'][row]}: "
                    f"string id {values[row]} is not in StringIds",
                    REEXPORT,
                )

    def _note_bounds(self, table: str, raw: pa.Table) -> None:
        """Remember where ``table``'s earliest and latest times are, for the span check."""
        for column in ("start", "end"):
            values = raw[column]
            if values.null_count == len(values):
                continue
            for at in (pc.min(values), pc.max(values)):
                row = pc.index(values, at).as_py()
                self.bounds.append((at.as_py(), table, column, raw["_ord"][row].as_py()))

    def _check_span(self) -> None:
        """All events within MAX_SPAN_NS of each other, and their UTC times within int64."""
        if not self.bounds:
            return
        first, last = min(self.bounds), max(self.bounds)
        if last[0] - first[0] > MAX_SPAN_NS or last[0] - self.t0 + self.utc >= MAX_NS * 2:
            days = (last[0] - first[0]) / (24 * 3600e9)
            raise InputError(
                f"{self.path}: the events span {days:,.0f} days, from {first[0]} ns (table "
                f"{first[1]}, column {first[2]}, row {first[3]}) to {last[0]} ns (table "
                f"{last[1]}, column {last[2]}, row {last[3]}); an export spans hours, at most "
                "a week, so one of these times is damaged",
                REEXPORT,
            )

    def _load(self, table: str, raw: pa.Table) -> None:
        """Register ``raw`` (rows of ``table``) and its view, one part of ``ev``.

        Rows are shaped when ``chunks`` reads them, once, with no table in between.
        """
        name, view, sql = EVENT_VIEWS[table]
        if not raw.num_rows:
            return
        ords = raw["_ord"]
        raw = raw.set_column(0, "_ord", pc.add(ords, self.next_id))
        self.db.register(name, raw)
        self.db.execute(sql)
        self.parts.append(view)
        self.next_id += pc.max(ords).as_py() + 1
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

    def _size_offsets(self) -> dict[tuple[int, int], int]:
        """(domainId, schemaId) -> offset of the message size; NULL offsets are left out."""
        entries = self.tables.read("NVTX_PAYLOAD_SCHEMA_ENTRIES", nsys_tables.PAYLOAD_ENTRIES)
        columns = ("domainId", "schemaId", "offset", "name")
        domains, schemas, offsets, names = (entries[c].to_pylist() for c in columns)
        return {
            (d, s): o
            for d, s, o, n in zip(domains, schemas, offsets, names, strict=True)
            if n == MESSAGE_SIZE_ENTRY and d is not None and s is not None and o is not None
        }

    def _nvtx(self, raw: pa.Table, offsets: dict[int, int]) -> pa.Table:
        """NVTX rows with text redacted and ``_bytes``, the NCCL message size of a payload."""
        for column in ("text", "jsonText"):
            raw = raw.set_column(
                raw.schema.get_field_index(column), column, redact_array(raw[column])
            )
        if "binaryData" in raw.column_names:
            sizes = message_sizes(raw["binaryData"].combine_chunks(), offsets)
            raw = raw.drop_columns(["binaryData"])
        else:
            sizes = pa.nulls(raw.num_rows, pa.int64())
        return raw.append_column("_bytes", sizes)

    def load(self) -> None:
        t = self.tables
        self._total = sum(
            t.con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()[0]
            for name, _fields, _ids in EVENT_TABLES
            if t.has(name)
        )
        ids = self._strings()["id"]
        self._time_base()
        offsets = self._size_offsets()
        blobs = [nsys_tables.NVTX_BLOB] if offsets and t.has("NVTX_EVENTS", "binaryData") else []
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            reads = [
                t.read_async(table, fields + (blobs if table == "NVTX_EVENTS" else []), pool=pool)
                for table, fields, _ids in EVENT_TABLES
            ]
            for (table, _fields, id_columns), collect in zip(EVENT_TABLES, reads, strict=True):
                raw = collect()
                self._check_ids(table, raw, id_columns, ids)
                self._note_bounds(table, raw)
                if table == "NVTX_EVENTS":
                    raw = self._nvtx(raw, offsets)
                self._load(table, raw)
        self._check_span()
        self._union()
        threads = t.read("ThreadNames", nsys_tables.THREADS)
        self._check_ids("ThreadNames", threads, ("nameId",), ids)
        processes = t.read("PROCESSES", nsys_tables.PROCESSES)
        names = pc.struct_field(pc.extract_regex(processes["name"], PROCESS_NAME), "name")
        processes = processes.set_column(3, "name", redact_array(names))
        for name, raw, sql in (
            ("thread_raw", threads, nsys_sql.THREAD_NAMES),
            ("process_raw", processes, nsys_sql.PROCESS_NAMES),
        ):
            self.db.register(name, raw)
            self.db.execute(sql)
            self.db.unregister(name)

    def gpu_processes(self) -> list[tuple[int | None, list[int], int]]:
        return [tuple(r) for r in self.db.execute(nsys_sql.GPU_PROCESSES).fetchall()]

    def chunks(self, proc: int | None) -> Iterator[EventChunk]:
        threads = self.db.execute(
            "SELECT DISTINCT pid, tid, name FROM th WHERE _proc IS NOT DISTINCT FROM $p",
            {"p": proc},
        ).fetchall()
        events = self.db.sql(
            "SELECT * EXCLUDE (_proc) FROM ev WHERE _proc IS NOT DISTINCT FROM $p",
            params={"p": proc},
        ).to_arrow_reader(CHUNK_ROWS)
        for batch in events:
            abs_ns = batch.column("abs_ns")
            if abs_ns.null_count:
                raise RuntimeError("the nsys reader handed out events without abs_ns")
            span = pc.min_max(abs_ns)
            low, high = span["min"].as_py() or 0, span["max"].as_py() or 0
            yield EventChunk(pa.Table.from_batches([batch]), len(abs_ns), low, high, threads)
            threads = []
        if threads:
            yield EventChunk(None, 0, 0, 0, threads)


def read_nsys(source: Source, sha256: str, on_progress: Callable[[int], None]) -> list[ParsedTrace]:
    """One ParsedTrace per process with GPU work in the report at ``source.path``.

    A process's rank is decided by :mod:`tracekit.ingest.ranks` (``--rank-map`` by
    ``process_id``); the report's ``RANK`` is claimed for its only GPU process.
    """
    path = source.path
    export = export_report(path, sha256) if path.suffix == ".nsys-rep" else path
    try:
        report = _Report(export, on_progress)
        report.check()
        report.load()
        return _traces(source, sha256, report)
    except sqlite3.DatabaseError as exc:
        raise InputError(
            f"{path}: the SQLite export is truncated or damaged ({exc})",
            EXPORT_AGAIN,
        ) from exc


def _traces(source: Source, sha256: str, report: _Report) -> list[ParsedTrace]:
    gpus = report.gpu_processes()
    firsts = dict(report.db.execute("SELECT _proc, min(abs_ns) FROM ev GROUP BY _proc").fetchall())
    system = {k: v for k, v in report.meta("TARGET_INFO_SYSTEM_ENV").items() if not looks_secret(v)}
    env_rows = [
        str(v)
        for k, v in report.tables.pairs("TARGET_INFO_SYSTEM_ENV", "name", "value")
        if k == "DeviceEnvironment"
    ]
    env_rows += [
        v
        for _k, v in report.tables.pairs("META_DATA_CAPTURE", "name", "value")
        if isinstance(v, str) and "=" in v
    ]
    env = safe_env(env_rows)
    # RANK and WORLD_SIZE as written (safe_env keeps only well-formed ones): ranks.py checks them
    pairs = env_pairs(env_rows)
    where = "in the report's environment (TARGET_INFO_SYSTEM_ENV)"
    rank = Claim(pairs.get("RANK"), "RANK", "environment", where) if len(gpus) == 1 else None
    world = Claim(pairs.get("WORLD_SIZE"), "WORLD_SIZE", "", where)
    export_meta = {k: v for k, v in report.meta("META_DATA_EXPORT").items() if not looks_secret(v)}
    names = dict(
        report.db.execute(
            "SELECT _proc, any_value(name) FROM th WHERE tid IS NULL GROUP BY ALL"
        ).fetchall()
    )
    gpu_names = _gpu_names(report)
    traces = []
    for proc, devices, kernels in gpus:
        meta = {
            "nsys_version": export_meta.get("EXPORT_PRODUCT_VERSION"),
            "export_schema_version": export_meta.get("EXPORT_SCHEMA_VERSION"),
            "process_name": names.get(proc),
            "devices": devices,
            "kernels": kernels,
            "session_start_ns": report.t0,
            "session_start_utc_ns": report.utc or None,
            "system": {k: system[k] for k in KEPT_SYSTEM if k in system},
            "environment": env,
        }
        traces.append(
            ParsedTrace(
                source=source,
                sha256=sha256,
                rank=rank,
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
    gpus = report.tables.read("TARGET_INFO_GPU", nsys_tables.GPUS)
    return {
        i: n
        for i, n in zip(gpus["id"].to_pylist(), gpus["name"].to_pylist(), strict=True)
        if i is not None and n is not None and not looks_secret(n)
    }
