"""Import traces into the store: one transaction per call, bulk loads of Arrow streams.

The steps, each in its own module: find the files and their runs
(:mod:`~tracekit.ingest.discover`), read each with its format's reader under
the reader contract (:mod:`~tracekit.ingest.contract`) while the parsed chunks
are inserted into the store (:mod:`~tracekit.ingest.stream`), decide
every trace's rank (:mod:`~tracekit.ingest.ranks`), then replace what
``--replace`` replaces and publish runs, traces and the summary
(:mod:`~tracekit.ingest.publish`). A failure anywhere rolls the whole import back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from tracekit import store
from tracekit.errors import InputError
from tracekit.ingest.contract import ParsedTrace, Reader, Source
from tracekit.ingest.discover import discover
from tracekit.ingest.kineto_parse import ParserPool
from tracekit.ingest.kineto_trace import read_kineto_trace
from tracekit.ingest.publish import ImportSummary, publish
from tracekit.ingest.ranks import Placement, RankMap, check_rank_option, parse_rank_map, place
from tracekit.ingest.stream import EventStream, check_nonempty

__all__ = ["ImportSummary", "import_paths"]

# DuckDB memory for the writing connection during an import (parsers add
# kineto_parse.PARSER_MEMORY each at most); peak RSS stays well under 1.5 GB.
IMPORT_MEMORY = "768MB"

STAGE_SQL = """
CREATE TEMP TABLE _stage_threads AS
SELECT CAST(NULL AS INTEGER) AS source_no, * EXCLUDE (trace_id) FROM threads LIMIT 0;
"""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while block := fh.read(1 << 22):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc
    return digest.hexdigest()


def _readers(formats: set[str], pool: ParserPool) -> dict[str, Reader]:
    """Readers for the formats present; the nsys reader (ADBC, polars) loads only when needed.

    Kineto files share ``pool``'s parser threads.
    """
    readers: dict[str, Reader] = {"kineto": lambda s, h, p: read_kineto_trace(s, h, p, pool=pool)}
    if "nsys" not in formats:
        return readers
    try:
        from tracekit.ingest.nsys import read_nsys
    except ImportError:
        return readers
    readers["nsys"] = read_nsys
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
    check_rank_option(rank, len(sources))
    ranks = parse_rank_map(rank_map)
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: needs at least one worker")
    parsers = ParserPool()
    try:
        with store.open(db, read_only=False, create=True) as con:
            return _import(con, sources, parsers, rank, ranks, replace, workers, progress)
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
    # JSON columns travel as `arrow.json` (as the parsers hand them out): the INSERT
    # then takes them as JSON without parsing every value again to check it.
    con.execute("SET arrow_lossless_conversion = true")


def _import(
    con: duckdb.DuckDBPyConnection,
    sources: list[Source],
    parsers: ParserPool,
    rank_option: int | None,
    rank_map: RankMap,
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
    readers = _readers({source.format for source, _sha in todo}, parsers)
    for source, _sha in todo:
        if source.format not in readers:
            raise InputError(f"{source.path}: no reader for {source.format} files in this build")

    # Parsed events go straight into `events`, inside the transaction, by an INSERT per
    # chunk as the workers parse them (DuckDB writes full row groups out as they fill:
    # 100 MB of JSON peaks at 420 MB into a new database, 400 MB into an existing one).
    # Threads are staged in a temp table. The import is one transaction (store.open):
    # a failure rolls everything back.
    _settings(con, sources)
    con.execute(STAGE_SQL)
    stream = EventStream(con)
    stream.run(todo, readers, workers, progress)
    # every piece is in: the parsers' memory is freed before the COMMIT, in a thread of its
    # own while the import is published (closing their DuckDB takes 10-25 ms)
    closing = threading.Thread(target=parsers.close, name="kineto-close")
    closing.start()
    try:
        check_nonempty(stream)
        placements = place(stream.traces, rank_option, rank_map)
        _replace(con, stream.traces, placements, replace)
        summary = publish(con, stream, placements)
        con.execute("DROP TABLE _stage_threads")
    finally:
        closing.join()
    return dataclasses.replace(summary, skipped=skipped)


def _replace(
    con: duckdb.DuckDBPyConnection,
    traces: list[ParsedTrace],
    placements: list[Placement],
    replace: bool,
) -> None:
    """Make room for ``traces`` in their runs: with ``replace``, delete what they replace.

    A trace replaces, in its own run only, the trace of the same rank and format
    and an earlier import of the same file; without ``replace`` the first of
    those is an error. Traces of other runs are never touched.
    """
    old: set[int] = set()
    for trace, placement in zip(traces, placements, strict=True):
        clash = con.execute(
            "SELECT trace_id, path, rank = $rank FROM traces WHERE run_id = $run AND "
            "((rank = $rank AND format = $format) OR sha256 = $sha) ORDER BY 3 DESC",
            {
                "run": trace.source.run,
                "rank": placement.rank,
                "format": trace.source.format,
                "sha": trace.sha256,
            },
        ).fetchall()
        if clash and not replace and clash[0][2]:
            raise InputError(
                f"{trace.source.path}: run {trace.source.run!r} already has rank "
                f"{placement.rank} (from {clash[0][1]})",
                "Use --replace to replace it, or --run NAME to import it as another run.",
            )
        old.update(trace_id for trace_id, _path, _same in clash)
    if replace and old:
        for table in ("events", "threads", "traces"):
            con.execute(f"DELETE FROM {table} WHERE list_contains(?, trace_id)", [sorted(old)])
