"""Publish an import: runs, traces and threads rows, run origins, and the summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb
import orjson

from tracekit.ingest.contract import ParsedTrace
from tracekit.ingest.ranks import Placement
from tracekit.ingest.stream import EventStream

if TYPE_CHECKING:
    from tracekit.collect.manifest import Manifest

OUTSIDE_WORLD = "traces whose rank is not below their run's world size (kept as given)"
CPU_SIDE_ONLY = (
    "traces of a GPU run's CPU side only (no kernels: no overlap or latency; cpu_side_traces)"
)
GRAPH_UNATTRIBUTED = (
    "CUDA graph work whose capture is not traced (layer, block unknown: graph_kernels)"
)


@dataclass(frozen=True)
class ImportSummary:
    """What an import added (counts over the traces it imported), and what it did not.

    ``skipped`` lists the files already in the database (by content hash), not
    imported again; ``warnings`` counts questionable data that was accepted, as
    (what and what was done with it, count), in the order first met.
    """

    runs: list[str]
    traces: int
    skipped: list[str]
    ranks: int
    events: int
    kernels: int
    comm_ops: int
    span_ns: int
    warnings: list[tuple[str, int]] = field(default_factory=list)


def publish(
    con: duckdb.DuckDBPyConnection, stream: EventStream, placements: list[Placement]
) -> ImportSummary:
    """Fix run origins, insert runs/traces/threads, shift rows whose offset was not the origin.

    ``placements`` are the traces' ranks (:func:`tracekit.ingest.ranks.place`), in order.
    """
    traces = stream.traces
    origins: dict[str, int] = {}
    worlds: dict[str, int | None] = {}
    for run_id, origin, world in con.execute(
        "SELECT run_id, origin_ns, world_size FROM runs"
    ).fetchall():
        origins[run_id], worlds[run_id] = origin, world
    by_run: dict[str, list[int]] = {}
    for number, trace in enumerate(traces):
        by_run.setdefault(trace.source.run, []).append(number)
    for run_id, members in by_run.items():
        if run_id not in origins:
            origins[run_id] = min(stream.first[number] for number in members)
            manifest = _run_manifest([traces[number] for number in members])
            parallel = None if manifest is None else manifest.parallel
            world = parallel.world_size if parallel else None
            world = worlds[run_id] = world or max(
                (placements[n].world_size for n in members if placements[n].world_size),
                default=None,
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
                    orjson.dumps(manifest.redacted().to_json()).decode() if manifest else None,
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
    for number, (trace, placement) in enumerate(zip(traces, placements, strict=True)):
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
                placement.rank,
                placement.world_size,
                placement.rank_source,
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
    warnings: Counter[str] = Counter()
    for trace in traces:
        warnings.update(trace.warnings)
    warnings[OUTSIDE_WORLD] = sum(
        1
        for trace, placement in zip(traces, placements, strict=True)
        if (world := worlds[trace.source.run]) is not None and placement.rank >= world
    )
    kept = [(what, count) for what, count in warnings.items() if count]
    return _summarise(con, stream, placements, sorted(by_run), ids, kept)


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
    con: duckdb.DuckDBPyConnection,
    stream: EventStream,
    placements: list[Placement],
    runs: list[str],
    ids: list[int],
    warnings: list[tuple[str, int]],
) -> ImportSummary:
    """Counts of what this import added; ``ids`` are consecutive (one sequence, in order)."""
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
    # traces that cannot give the figures they seem to: CPU side only, graph replays whose
    # capture is not traced
    notes = [
        (what, con.execute(f"SELECT count(*) FROM {view} WHERE {test}", bounds).fetchall()[0][0])
        for what, view, test in (
            (CPU_SIDE_ONLY, "cpu_side_traces", "trace_id BETWEEN ? AND ?"),
            (GRAPH_UNATTRIBUTED, "graph_kernels", "NOT attributed AND trace_id BETWEEN ? AND ?"),
        )
    ]
    warnings = [*warnings, *((what, n) for what, n in notes if n)]
    ranks = len({(t.source.run, p.rank) for t, p in zip(stream.traces, placements, strict=True)})
    events = sum(stream.rows.values())
    return ImportSummary(runs, len(ids), [], ranks, events, kernels, comm, span, warnings)
