"""Import traces into the store: one transaction per call, bulk Arrow loads.

Each source is parsed (in parallel worker threads, each with its own
in-memory DuckDB) into Arrow chunks holding absolute times (``abs_ns``).
Chunks land in a staging file per source (Arrow IPC, lz4); once every source is
parsed the run origins are fixed and the rows move to ``events`` with
``ts_ns = abs_ns - origin``, one INSERT per source.
A failure anywhere rolls the whole import back.
"""

from __future__ import annotations

import functools
import hashlib
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.ipc as ipc

from tracekit import store
from tracekit.errors import InputError
from tracekit.ingest.discover import (
    Source,
    discover,
    load_manifest,
    manifest_rank,
    rank_from_name,
)
from tracekit.ingest.kineto import read_kineto
from tracekit.ingest.nsys_env import parse_rank_map

KEPT_KINETO_META = (
    "schemaVersion",
    "traceName",
    "displayTimeUnit",
    "baseTimeNanoseconds",
    "record_shapes",
    "trace_id",
)

# DuckDB memory for the writing connection during an import (parsers add
# kineto.PARSER_MEMORY each at most); peak RSS stays well under 1.5 GB.
IMPORT_MEMORY = "768MB"

STAGE_SQL = """
CREATE TEMP TABLE _stage_threads AS
SELECT CAST(NULL AS INTEGER) AS source_no, * EXCLUDE (trace_id) FROM threads LIMIT 0;
"""


@dataclass
class ParsedTrace:
    """What a format reader tells about one trace, before it is stored.

    ``chunks`` yields (events, threads) Arrow tables whose columns are those
    of ``events`` / ``threads`` with ``abs_ns`` in place of ``ts_ns`` and
    without ``trace_id``.
    """

    source: Source
    sha256: str
    rank: int | None
    rank_source: str | None
    world_size: int | None = None
    backend: str | None = None
    host: str | None = None
    process_id: int | None = None
    gpu_names: list[str] = field(default_factory=list)
    process_groups: Any = None
    source_meta: dict[str, Any] = field(default_factory=dict)
    chunks: Iterator[tuple[pa.Table, pa.Table]] = field(default_factory=lambda: iter(()))


@dataclass
class ImportSummary:
    runs: list[str]
    traces: int
    skipped: list[str]
    ranks: int
    events: int
    kernels: int
    comm_ops: int
    span_ns: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while block := fh.read(1 << 22):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc
    return digest.hexdigest()


def _kineto(source: Source, sha: str, on_progress: Callable[[int], None]) -> ParsedTrace:
    meta, chunks = read_kineto(source.path, on_progress=on_progress)
    dist = meta.get("distributedInfo") or {}
    rank, rank_source = None, None
    if isinstance(dist.get("rank"), int):
        rank, rank_source = dist["rank"], "distributedInfo"
    kept = {k: meta[k] for k in KEPT_KINETO_META if k in meta}
    if dist.get("nccl_version"):
        kept["nccl_version"] = dist["nccl_version"]
    devices = meta.get("deviceProperties") or []
    return ParsedTrace(
        source=source,
        sha256=sha,
        rank=rank,
        rank_source=rank_source,
        world_size=dist.get("world_size"),
        backend=dist.get("backend"),
        host=meta.get("host_name"),
        gpu_names=[d.get("name") for d in devices if isinstance(d, dict) and d.get("name")],
        process_groups=dist.get("pg_config"),
        source_meta=kept,
        chunks=((c.events, c.threads) for c in chunks),
    )


Reader = Callable[[Source, str, Callable[[int], None]], list[ParsedTrace]]


def _readers(formats: set[str], rank_map: list[str] | None = None) -> dict[str, Reader]:
    """Readers for the formats present; the nsys reader (ADBC, polars) loads only when needed."""
    readers: dict[str, Reader] = {"kineto": lambda s, h, p: [_kineto(s, h, p)]}
    ranks = parse_rank_map(rank_map)
    if "nsys" not in formats:
        return readers
    try:
        from tracekit.ingest.nsys import read_nsys
    except ImportError:
        return readers
    readers["nsys"] = functools.partial(read_nsys, rank_map=ranks)
    return readers


def import_paths(
    db: Path,
    paths: list[Path],
    *,
    run: str | None = None,
    rank: int | None = None,
    replace: bool = False,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    rank_map: list[str] | None = None,
) -> ImportSummary:
    """Import every trace under ``paths`` into ``db`` in one transaction.

    ``rank_map`` holds ``[REPORT:]PID=RANK[,...]`` specs naming the rank of each
    process of an Nsight Systems report (see docs/nsys.md).
    """
    sources = discover(paths, run)
    if rank is not None and len(sources) != 1:
        raise InputError("--rank applies to a single trace file", "Import the others separately.")
    readers = _readers({s.format for s in sources}, rank_map)
    con = store.connect(db)
    try:
        store.initialise(con)
        con.execute("SET preserve_insertion_order = false")
        # Bounded memory: the move into `events` and the staged threads spill beyond this.
        con.execute(f"SET memory_limit = '{IMPORT_MEMORY}'")
        return _import(con, sources, readers, rank, replace, workers, progress)
    finally:
        con.close()


def _import(
    con: duckdb.DuckDBPyConnection,
    sources: list[Source],
    readers: dict[str, Reader],
    rank_option: int | None,
    replace: bool,
    workers: int | None,
    progress: Callable[[str, int, int], None] | None,
) -> ImportSummary:
    known = dict(con.execute("SELECT sha256, trace_id FROM traces").fetchall())
    todo: list[tuple[Source, str]] = []
    skipped: list[str] = []
    for source in sources:
        sha = sha256_of(source.path)
        if sha in known and not replace:
            skipped.append(str(source.path))
        else:
            todo.append((source, sha))
    if not todo:
        return ImportSummary([], 0, skipped, 0, 0, 0, 0, 0)
    for source, _sha in todo:
        if source.format not in readers:
            raise InputError(f"{source.path}: no reader for {source.format} files in this build")

    # Parsed events are staged outside the transaction, one Arrow IPC file per
    # source (lz4, written as they come: no DuckDB work, bounded memory), threads
    # in a temp table. Appending chunk by chunk inside the transaction made DuckDB
    # keep every row in memory until COMMIT (GBs for a big trace); one INSERT ...
    # SELECT per source from the staged file does not. Nothing reaches the real
    # tables before the transaction, which makes the import all-or-nothing.
    con.execute(STAGE_SQL)
    with tempfile.TemporaryDirectory(prefix="tracekit-stage-") as stage_dir:
        stage = _Stage(Path(stage_dir))
        try:
            traces = _stage_all(con, stage, todo, readers, workers, progress)
            stage.close()
            _check_nonempty(stage, traces)
            with store.transaction(con):
                _resolve_ranks(con, traces, rank_option, replace)
                if replace:
                    _delete_traces(con, [known[sha] for _, sha in todo if sha in known])
                summary = _publish(con, stage, traces)
        finally:
            stage.close()
            con.execute("DROP TABLE IF EXISTS _stage_threads")
    summary.skipped = skipped
    return summary


class _Stage:
    """Staged events: per source, an Arrow IPC file, its row count and earliest ``abs_ns``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writers: dict[int, ipc.RecordBatchFileWriter] = {}
        self.schemas: dict[int, pa.Schema] = {}
        self.rows: dict[int, int] = {}
        self.first: dict[int, int] = {}
        self.options = ipc.IpcWriteOptions(compression="lz4")

    def path(self, number: int) -> Path:
        return self.folder / f"{number}.arrow"

    def add(self, number: int, events: pa.Table) -> None:
        if not events.num_rows:
            return
        writer = self.writers.get(number)
        if writer is None:
            schema = self.schemas[number] = events.schema
            writer = self.writers[number] = ipc.new_file(
                str(self.path(number)), schema, options=self.options
            )
        schema = self.schemas[number]
        if events.schema != schema:  # a reader's chunks may differ: align by name
            for name in schema.names:
                if name not in events.schema.names:
                    events = events.append_column(name, pa.nulls(events.num_rows))
            events = events.select(schema.names).cast(schema)
        writer.write_table(events)
        self.rows[number] = self.rows.get(number, 0) + events.num_rows
        low = pc.min(events.column("abs_ns")).as_py()
        if low is not None and (number not in self.first or low < self.first[number]):
            self.first[number] = low

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()

    def reader(self, number: int) -> pa.RecordBatchReader:
        """The staged rows of one source, a batch at a time (no read-ahead: bounded memory)."""
        scanner = ds.dataset(str(self.path(number)), format="ipc").scanner(
            batch_readahead=1, fragment_readahead=1, use_threads=False
        )
        return scanner.to_reader()


def _stage_all(
    con: duckdb.DuckDBPyConnection,
    stage: _Stage,
    todo: list[tuple[Source, str]],
    readers: dict[str, Reader],
    workers: int | None,
    progress: Callable[[str, int, int], None] | None,
) -> list[ParsedTrace]:
    """Parse sources in worker threads; the calling thread alone writes to DuckDB."""
    out: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=8)
    stop = threading.Event()
    traces: list[ParsedTrace] = []
    lock = threading.Lock()

    def work(source: Source, sha: str) -> None:
        try:
            size = source.path.stat().st_size

            def tick(done: int) -> None:
                if progress:
                    progress(str(source.path), done, size)

            for parsed in readers[source.format](source, sha, tick):
                with lock:
                    number = len(traces)
                    traces.append(parsed)
                for events, threads in parsed.chunks:
                    if stop.is_set():
                        return
                    out.put(("chunk", (number, events, threads)))
            out.put(("done", None))
        except BaseException as exc:  # re-raised on the writing thread
            out.put(("error", exc))

    n_workers = workers or min(len(todo), os.cpu_count() or 1) or 1
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        for source, sha in todo:
            pool.submit(work, source, sha)
        remaining = len(todo)
        try:
            while remaining:
                kind, payload = out.get()
                if kind == "done":
                    remaining -= 1
                elif kind == "error":
                    raise payload
                else:
                    _stage_chunk(con, stage, *payload)
        finally:
            stop.set()
            while not out.empty():
                out.get_nowait()
    return traces


def _stage_chunk(
    con: duckdb.DuckDBPyConnection, stage: _Stage, number: int, events: pa.Table, threads: pa.Table
) -> None:
    stage.add(number, events)
    if threads.num_rows:
        con.register("_chunk", threads)
        con.execute(
            "INSERT INTO _stage_threads BY NAME SELECT ? AS source_no, * FROM _chunk", [number]
        )
        con.unregister("_chunk")


def _check_nonempty(stage: _Stage, traces: list[ParsedTrace]) -> None:
    for number, trace in enumerate(traces):
        if not stage.rows.get(number):
            raise InputError(
                f"{trace.source.path}: the trace holds no timed events",
                "A profiler trace needs complete ('X') events; was the profiled region empty?",
            )


def _resolve_ranks(
    con: duckdb.DuckDBPyConnection,
    traces: list[ParsedTrace],
    rank_option: int | None,
    replace: bool,
) -> None:
    """Rank: distributedInfo (or what the reader found), manifest, file name, --rank."""
    manifests: dict[Path, dict] = {}
    for trace in traces:
        if trace.rank is None and trace.source.manifest:
            manifest = manifests.setdefault(
                trace.source.manifest, load_manifest(trace.source.manifest)
            )
            trace.rank = manifest_rank(manifest, trace.source.path)
            trace.rank_source = "manifest" if trace.rank is not None else None
        if trace.rank is None:
            trace.rank = rank_from_name(trace.source.path)
            trace.rank_source = "filename" if trace.rank is not None else None
        if trace.rank is None and rank_option is not None:
            trace.rank, trace.rank_source = rank_option, "option"
        if trace.rank is None:
            raise InputError(
                f"{trace.source.path}: cannot tell which rank this trace is",
                "It has no distributedInfo and no rank number in its file name; "
                "import it alone with --rank N.",
            )
    seen: dict[tuple[str, int], ParsedTrace] = {}
    for trace in traces:
        key = (trace.source.run, trace.rank)
        if key in seen:
            raise InputError(
                f"{trace.source.path}: rank {trace.rank} of run {key[0]!r} is claimed twice "
                f"(also by {seen[key].source.path})",
                "Import the runs separately with --run NAME, or fix the rank.",
            )
        seen[key] = trace
    if replace:
        return
    for trace in traces:
        clash = con.execute(
            "SELECT path FROM traces WHERE run_id = ? AND rank = ? AND format = ?",
            [trace.source.run, trace.rank, trace.source.format],
        ).fetchall()
        if clash:
            raise InputError(
                f"{trace.source.path}: run {trace.source.run!r} already has rank {trace.rank} "
                f"(from {clash[0][0]})",
                "Use --replace to replace it, or --run NAME to import it as another run.",
            )


def _delete_traces(con: duckdb.DuckDBPyConnection, trace_ids: list[int]) -> None:
    for table in ("events", "threads", "traces"):
        con.execute(f"DELETE FROM {table} WHERE list_contains(?, trace_id)", [trace_ids])


def _publish(
    con: duckdb.DuckDBPyConnection, stage: _Stage, traces: list[ParsedTrace]
) -> ImportSummary:
    """Fix run origins, insert runs/traces, move staged rows into the real tables."""
    numbers = {id(t): i for i, t in enumerate(traces)}
    firsts = stage.first
    origins: dict[str, int] = dict(con.execute("SELECT run_id, origin_ns FROM runs").fetchall())
    by_run: dict[str, list[ParsedTrace]] = {}
    for trace in traces:
        by_run.setdefault(trace.source.run, []).append(trace)
    for run_id, members in by_run.items():
        if run_id not in origins:
            origins[run_id] = min(firsts[numbers[id(t)]] for t in members)
            manifest = _run_manifest(members)
            parallel = (manifest or {}).get("parallel", {})
            world = parallel.get("world_size") or max(
                (t.world_size for t in members if t.world_size), default=None
            )
            con.execute(
                "INSERT INTO runs (run_id, origin_ns, world_size, tp, pp, manifest) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    origins[run_id],
                    world,
                    parallel.get("tp"),
                    parallel.get("pp"),
                    orjson.dumps(manifest).decode() if manifest else None,
                ],
            )
            _layout_from_manifest(con, run_id, manifest)

    mapping = []
    for number, trace in enumerate(traces):
        offset = origins[trace.source.run]
        trace_id = con.execute(
            "INSERT INTO traces (run_id, path, sha256, format, rank, world_size, rank_source, "
            "backend, host, process_id, gpu_names, process_groups, time_offset_ns, source_meta) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING trace_id",
            [
                trace.source.run,
                str(trace.source.path),
                trace.sha256,
                trace.source.format,
                trace.rank,
                trace.world_size,
                trace.rank_source,
                trace.backend,
                trace.host,
                trace.process_id,
                trace.gpu_names,
                orjson.dumps(trace.process_groups).decode() if trace.process_groups else None,
                offset,
                orjson.dumps(trace.source_meta).decode(),
            ],
        ).fetchall()[0][0]
        mapping.append((number, trace_id, offset))

    con.execute("CREATE TEMP TABLE _trace_map (source_no INTEGER, trace_id INTEGER, off BIGINT)")
    con.executemany("INSERT INTO _trace_map VALUES (?, ?, ?)", mapping)
    for number, trace_id, offset in mapping:
        con.register("_staged", stage.reader(number))
        con.execute(
            "INSERT INTO events BY NAME SELECT ? AS trace_id, abs_ns - ? AS ts_ns, "
            "* EXCLUDE (abs_ns) FROM _staged",
            [trace_id, offset],
        )
        con.unregister("_staged")
        con.execute(
            "UPDATE traces SET event_count = ? WHERE trace_id = ?", [stage.rows[number], trace_id]
        )
    con.execute(
        "INSERT INTO threads BY NAME SELECT DISTINCT m.trace_id, s.* EXCLUDE (source_no) "
        "FROM _stage_threads s JOIN _trace_map m USING (source_no)"
    )
    ids = [trace_id for _, trace_id, _ in mapping]
    con.execute("DROP TABLE _trace_map")
    return _summarise(con, sorted(by_run), ids)


def _run_manifest(members: list[ParsedTrace]) -> dict | None:
    for trace in members:
        if trace.source.manifest:
            return load_manifest(trace.source.manifest)
    return None


def _layout_from_manifest(con: duckdb.DuckDBPyConnection, run_id: str, manifest: dict | None):
    for entry in (manifest or {}).get("ranks", []):
        con.execute(
            "INSERT OR REPLACE INTO rank_layout VALUES (?, ?, ?, ?, ?, ?)",
            [
                run_id,
                entry.get("rank"),
                entry.get("tp_rank"),
                entry.get("pp_rank"),
                entry.get("host"),
                entry.get("device"),
            ],
        )


def _summarise(con: duckdb.DuckDBPyConnection, runs: list[str], ids: list[int]) -> ImportSummary:
    if not ids:
        return ImportSummary(runs, 0, [], 0, 0, 0, 0, 0)
    row = con.execute(
        "SELECT count(DISTINCT (t.run_id, t.rank)), count(*), "
        "count(*) FILTER (WHERE e.kind = 'kernel'), "
        "coalesce(max(e.ts_ns + e.dur_ns) - min(e.ts_ns), 0) "
        "FROM events e JOIN traces t USING (trace_id) WHERE list_contains(?, e.trace_id)",
        [ids],
    ).fetchall()[0]
    comm = con.execute(
        "SELECT count(*) FROM comm_ops WHERE list_contains(?, trace_id)", [ids]
    ).fetchall()[0][0]
    return ImportSummary(runs, len(ids), [], row[0], row[1], row[2], comm, row[3])
