"""Import traces into the store: one transaction per call, bulk Arrow loads.

Each source is parsed (in parallel worker threads, each with its own
in-memory DuckDB) into Arrow chunks holding absolute times (``abs_ns``).
Inside one transaction, a single INSERT streams every chunk into ``events`` as
it is parsed, with ``ts_ns = abs_ns - offset``, the offset being the run's
origin where the run exists and otherwise the earliest time that the readers
announce (``ParsedTrace.first_ns``) or that the run's first chunk holds. Once
every source is parsed the origin of a new run (its earliest event) is known
and the rows of a run whose offset was not its origin are shifted by one
UPDATE. A failure anywhere rolls the whole import back.
"""

from __future__ import annotations

import functools
import hashlib
import os
import queue
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

from tracekit import store
from tracekit.collect.manifest import Manifest
from tracekit.errors import InputError
from tracekit.ingest.discover import Source, discover, rank_from_name
from tracekit.ingest.kineto import ParserPool, read_kineto
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
    without ``trace_id``; an ``events`` column left out is NULL. ``first_ns``
    is the earliest ``abs_ns`` of the trace where the reader knows it before
    its chunks: the rows of a new run then go in relative to its origin at once.
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
    first_ns: int | None = None


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


def _kineto(
    pool: ParserPool, source: Source, sha: str, on_progress: Callable[[int], None]
) -> ParsedTrace:
    meta, chunks = read_kineto(source.path, on_progress=on_progress, pool=pool)
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


def _readers(formats: set[str], rank_map: list[str] | None, pool: ParserPool) -> dict[str, Reader]:
    """Readers for the formats present; the nsys reader (ADBC, polars) loads only when needed.

    Kineto files share ``pool``'s parser threads.
    """
    readers: dict[str, Reader] = {"kineto": lambda s, h, p: [_kineto(pool, s, h, p)]}
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
    parsers = ParserPool()
    try:
        readers = _readers({s.format for s in sources}, rank_map, parsers)
        with store.open(db, read_only=False, create=True) as con:
            return _import(con, sources, readers, rank, replace, workers, progress)
    finally:
        parsers.close()


def _settings(con: duckdb.DuckDBPyConnection, sources: list[Source]) -> None:
    """The writing connection's settings for one import."""
    con.execute("SET preserve_insertion_order = false")
    if {s.format for s in sources} == {"kineto"}:
        # One writer thread: the Kineto parser threads use the cores. A parallel
        # INSERT also leaves partly filled row groups that the commit rewrites,
        # their old blocks left in the file as free space (a quarter of a 100 MB
        # trace's database). The nsys reader leaves the INSERT cores to use.
        con.execute("SET threads = 1")
    # Bounded memory: the INSERT into `events` and the staged threads spill beyond this.
    con.execute(f"SET memory_limit = '{IMPORT_MEMORY}'")
    # The INSERT lasts as long as the parsing; progress is the caller's to show.
    con.execute("SET enable_progress_bar = false")
    # JSON columns travel as `arrow.json` (as the parsers hand them out): the INSERT
    # then takes them as JSON without parsing every value again to check it.
    con.execute("SET arrow_lossless_conversion = true")


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
    # hashlib releases the GIL: files are hashed in parallel (a job is hundreds of files)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        hashes = list(pool.map(sha256_of, [source.path for source in sources]))
    for source, sha in zip(sources, hashes, strict=True):
        if sha in known and not replace:
            skipped.append(str(source.path))
        else:
            todo.append((source, sha))
    if not todo:
        return ImportSummary([], 0, skipped, 0, 0, 0, 0, 0)
    for source, _sha in todo:
        if source.format not in readers:
            raise InputError(f"{source.path}: no reader for {source.format} files in this build")

    # Parsed events go straight into `events`, inside the transaction, through one
    # INSERT that reads a stream of the chunks as the workers parse them: one statement
    # keeps DuckDB's memory bounded (it writes full row groups out as they fill), where
    # an INSERT per chunk inside a transaction keeps every row in memory until COMMIT.
    # Threads are staged in a temp table. The import is one transaction (store.open):
    # a failure rolls everything back.
    _settings(con, sources)
    con.execute(STAGE_SQL)
    stream = _Stream(con)
    stream.run(todo, readers, workers, progress)
    _check_nonempty(stream)
    _resolve_ranks(con, stream.traces, rank_option, replace)
    if replace:
        _delete_traces(con, [known[sha] for _, sha in todo if sha in known])
    summary = _publish(con, stream)
    con.execute("DROP TABLE _stage_threads")
    summary.skipped = skipped
    return summary


class _Stream:
    """Parsed chunks on their way into ``events``: one INSERT reads them as they come.

    The i-th trace's rows carry ``trace_id`` = the i-th value the sequence
    ``trace_id_seq`` will hand out (``_publish`` takes those values and checks them),
    and ``ts_ns = abs_ns - offsets[run]``: the run's origin where the run exists,
    else the earliest time among its first chunk and the ``first_ns`` of its
    traces known then (``_publish`` shifts the rows where that was not the
    origin). Per trace it keeps the row count and the earliest ``abs_ns``.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.schema = con.sql("FROM events LIMIT 0").to_arrow_table().schema
        self.offsets: dict[str, int] = dict(
            con.execute("SELECT run_id, origin_ns FROM runs").fetchall()
        )
        self.first_id, self.id_step = con.execute(
            "SELECT coalesce(last_value + increment_by, start_value), increment_by "
            "FROM duckdb_sequences() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND sequence_name = 'trace_id_seq'"
        ).fetchall()[0]
        self.traces: list[ParsedTrace] = []
        self.rows: dict[int, int] = {}
        self.first: dict[int, int] = {}
        self.threads: list[tuple[int, pa.Table]] = []
        self.lock = threading.Lock()
        self.nulls: dict[pa.DataType, pa.Array] = {}

    def trace_id(self, number: int) -> int:
        return self.first_id + number * self.id_step

    def run(
        self,
        todo: list[tuple[Source, str]],
        readers: dict[str, Reader],
        workers: int | None,
        progress: Callable[[str, int, int], None] | None,
    ) -> None:
        """Parse sources in worker threads while DuckDB inserts what they yield."""
        out: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=8)
        stop = threading.Event()
        failure: list[BaseException] = []

        def work(source: Source, sha: str) -> None:
            if stop.is_set():
                return
            try:
                size = source.path.stat().st_size

                def tick(done: int) -> None:
                    if progress:
                        progress(str(source.path), done, size)

                parsed_traces = readers[source.format](source, sha, tick)
                with self.lock:
                    first = len(self.traces)
                    self.traces.extend(parsed_traces)
                for number, parsed in enumerate(parsed_traces, first):
                    for events, threads in parsed.chunks:
                        if stop.is_set():
                            return
                        out.put(("chunk", (number, events, threads)))
                out.put(("done", None))
            except BaseException as exc:  # re-raised on the writing thread
                out.put(("error", exc))

        def batches() -> Iterator[pa.RecordBatch]:
            """The chunks as they come; an error is kept to re-raise it as it was."""
            remaining = len(todo)
            try:
                while remaining:
                    kind, payload = out.get()
                    if kind == "done":
                        remaining -= 1
                    elif kind == "error":
                        raise payload
                    else:
                        yield from self._chunk(*payload).to_batches()
            except GeneratorExit:  # DuckDB stopped reading: its own error says why
                raise
            except BaseException as exc:
                failure.append(exc)
                raise

        n_workers = workers or min(len(todo), os.cpu_count() or 1) or 1
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            futures = [pool.submit(work, source, sha) for source, sha in todo]
            try:
                self.con.register(
                    "_stream", pa.RecordBatchReader.from_batches(self.schema, batches())
                )
                self.con.execute("INSERT INTO events SELECT * FROM _stream")
                self.con.unregister("_stream")
            except duckdb.Error:
                if failure:
                    raise failure[0] from None
                raise
            finally:
                # After a failure, workers may still be putting chunks: take them until
                # every worker has returned (more of them than the queue holds would
                # otherwise block forever), and start no more.
                stop.set()
                for future in futures:
                    future.cancel()
                while not all(future.done() for future in futures):
                    try:
                        out.get(timeout=0.05)
                    except queue.Empty:
                        pass
        for number, threads in self.threads:
            self.con.register("_chunk", threads)
            self.con.execute(
                "INSERT INTO _stage_threads BY NAME SELECT ? AS source_no, * FROM _chunk", [number]
            )
            self.con.unregister("_chunk")

    def _chunk(self, number: int, events: pa.Table, threads: pa.Table) -> pa.Table:
        """``events`` as rows of the table ``events``; ``threads`` are kept for later.

        This runs inside the INSERT, so it cannot use the connection.
        """
        if threads.num_rows:
            self.threads.append((number, threads))
        rows = events.num_rows
        if not rows:
            return self.schema.empty_table()
        low = pc.min(events.column("abs_ns")).as_py()
        self.rows[number] = self.rows.get(number, 0) + rows
        self.first[number] = min(low, self.first.get(number, low))
        run = self.traces[number].source.run
        if run not in self.offsets:
            with self.lock:
                known = [
                    t.first_ns
                    for t in self.traces
                    if t.source.run == run and t.first_ns is not None
                ]
            self.offsets[run] = min([low, *known])
        offset = self.offsets[run]
        columns = []
        for column in self.schema:
            if column.name == "trace_id":
                value = pa.repeat(pa.scalar(self.trace_id(number), column.type), rows)
            elif column.name == "ts_ns":
                value = pc.subtract_checked(events.column("abs_ns"), offset)
            elif column.name in events.column_names:
                value = events.column(column.name).cast(column.type)
            else:
                value = self._nulls(column.type, rows)
            columns.append(value)
        return pa.Table.from_arrays(columns, schema=self.schema)

    def _nulls(self, kind: pa.DataType, rows: int) -> pa.Array:
        """``rows`` NULLs: a slice of one array per type, not new buffers per chunk."""
        nulls = self.nulls.get(kind)
        if nulls is None or len(nulls) < rows:
            nulls = self.nulls[kind] = pa.nulls(rows, kind)
        return nulls.slice(0, rows)


def _check_nonempty(stream: _Stream) -> None:
    for number, trace in enumerate(stream.traces):
        if not stream.rows.get(number):
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
    for trace in traces:
        if trace.rank is None and trace.source.manifest:
            trace.rank = trace.source.manifest.rank_of(trace.source.path.name)
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


def _publish(con: duckdb.DuckDBPyConnection, stream: _Stream) -> ImportSummary:
    """Fix run origins, insert runs/traces/threads, shift rows whose offset was not the origin."""
    traces = stream.traces
    origins: dict[str, int] = dict(con.execute("SELECT run_id, origin_ns FROM runs").fetchall())
    by_run: dict[str, list[int]] = {}
    for number, trace in enumerate(traces):
        by_run.setdefault(trace.source.run, []).append(number)
    for run_id, members in by_run.items():
        if run_id not in origins:
            origins[run_id] = min(stream.first[number] for number in members)
            manifest = _run_manifest([traces[number] for number in members])
            parallel = None if manifest is None else manifest.parallel
            world = parallel.world_size if parallel else None
            world = world or max(
                (traces[n].world_size for n in members if traces[n].world_size), default=None
            )
            con.execute(
                "INSERT INTO runs (run_id, origin_ns, world_size, tp, pp, manifest) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    origins[run_id],
                    world,
                    parallel.tp if parallel else None,
                    parallel.pp if parallel else None,
                    orjson.dumps(manifest.to_json()).decode() if manifest else None,
                ],
            )
            _layout_from_manifest(con, run_id, manifest)

    # The rows carry the ids the sequence hands out next (nothing else writes to this
    # database during the import: DuckDB holds its lock), taken only now that the
    # import can no longer fail on its input.
    ids = [stream.trace_id(number) for number in range(len(traces))]
    taken = [con.execute("SELECT nextval('trace_id_seq')").fetchall()[0][0] for _ in ids]
    if taken != ids:
        raise RuntimeError(f"trace_id_seq handed out {taken}, the staged rows carry {ids}")
    mapping = []
    for number, trace in enumerate(traces):
        run_id = trace.source.run
        con.execute(
            "INSERT INTO traces (trace_id, run_id, path, sha256, format, rank, world_size, "
            "rank_source, backend, host, process_id, gpu_names, process_groups, time_offset_ns, "
            "source_meta, event_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ids[number],
                run_id,
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
                origins[run_id],
                orjson.dumps(trace.source_meta).decode(),
                stream.rows[number],
            ],
        )
        mapping.append((number, ids[number], stream.offsets[run_id] - origins[run_id]))

    con.execute("CREATE TEMP TABLE _trace_map (source_no INTEGER, trace_id INTEGER, shift BIGINT)")
    con.executemany("INSERT INTO _trace_map VALUES (?, ?, ?)", mapping)
    if any(shift for _, _, shift in mapping):
        con.execute(
            "UPDATE events SET ts_ns = ts_ns + m.shift FROM _trace_map m "
            "WHERE events.trace_id = m.trace_id AND m.shift <> 0"
        )
    con.execute(
        "INSERT INTO threads BY NAME SELECT DISTINCT m.trace_id, s.* EXCLUDE (source_no) "
        "FROM _stage_threads s JOIN _trace_map m USING (source_no)"
    )
    con.execute("DROP TABLE _trace_map")
    return _summarise(con, stream, sorted(by_run), ids)


def _run_manifest(members: list[ParsedTrace]) -> Manifest | None:
    for trace in members:
        if trace.source.manifest:
            return trace.source.manifest
    return None


def _layout_from_manifest(
    con: duckdb.DuckDBPyConnection, run_id: str, manifest: Manifest | None
) -> None:
    for entry in manifest.ranks if manifest else ():
        con.execute(
            "INSERT OR REPLACE INTO rank_layout VALUES (?, ?, ?, ?, ?, ?)",
            [run_id, entry.rank, entry.tp_rank, entry.pp_rank, entry.host, entry.device],
        )


def _summarise(
    con: duckdb.DuckDBPyConnection, stream: _Stream, runs: list[str], ids: list[int]
) -> ImportSummary:
    """Counts of what this import added; ``ids`` are consecutive (one sequence, in order)."""
    if not ids:
        return ImportSummary(runs, 0, [], 0, 0, 0, 0, 0)
    bounds = [ids[0], ids[-1]]
    kernels, span = con.execute(
        "SELECT count(*) FILTER (WHERE kind = 'kernel'), "
        "coalesce(max(ts_ns + dur_ns) - min(ts_ns), 0) "
        "FROM events WHERE trace_id BETWEEN ? AND ?",
        bounds,
    ).fetchall()[0]
    # comm_ops holds exactly the events whose (kind, name) _comm_names classifies
    comm = con.execute(
        "SELECT count(*) FROM events e SEMI JOIN _comm_names n ON n.kind = e.kind "
        "AND n.name = e.name WHERE e.trace_id BETWEEN ? AND ?",
        bounds,
    ).fetchall()[0][0]
    ranks = len({(t.source.run, t.rank) for t in stream.traces})
    return ImportSummary(runs, len(ids), [], ranks, sum(stream.rows.values()), kernels, comm, span)
