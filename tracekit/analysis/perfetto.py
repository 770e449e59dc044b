"""A run's timeline for Perfetto and Chrome's trace viewer (Chrome Trace Event Format JSON).

The rows are the ``perfetto_slices`` view's (one Trace Event per row: metadata, slices,
instants, flows); this module only streams them into JSON, one Arrow batch at a time, so
a run of millions of events is never one Python list. Times are written in µs with the
ns as three exact decimals (``1234567 ns`` → ``1234.567``).

A FILE ending in ``.gz`` is written gzip-compressed (both viewers open it).

The file starts with ``{"otherData":{"generator":"tracekit"`` so a later export knows
it may overwrite it; any other existing file is kept unless the caller forces it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson
import pyarrow as pa
from duckdb import ColumnExpression, ConstantExpression
from isal import igzip

from tracekit import __version__, places
from tracekit.analysis._query import missing_view
from tracekit.errors import InputError

VIEW = "perfetto_slices"
MARKER = b'{"otherData":{"generator":"tracekit"'
BATCH_ROWS = 50_000
# metadata first, then each track's events in time order (longest first on ties: parents);
# a total order, so one store always gives the same file
ORDER = (
    "pid, tid NULLS FIRST, ph <> 'M', ts_ns, dur_ns DESC NULLS LAST, ph, name, flow_id, "
    "trace_id, event_id"
)
ARG_COLUMNS = (
    "trace_id",
    "event_id",
    "step",
    "phase",
    "stage",
    "layer",
    "block",
    "comm_op",
    "msg_bytes",
    "pg",
    "instance",
    "rank_op",
)


@dataclass(frozen=True)
class Export:
    """What an export wrote: the file, its Trace Events and how many of them are slices."""

    path: Path
    events: int
    slices: int


def rows(con: duckdb.DuckDBPyConnection, run: str) -> pa.RecordBatchReader:
    """The run's ``perfetto_slices`` rows in file order, as Arrow batches."""
    try:
        rel = con.view(VIEW).filter(ColumnExpression("run_id") == ConstantExpression(run))
        return rel.order(ORDER).to_arrow_reader(BATCH_ROWS)
    except duckdb.CatalogException as exc:
        raise missing_view(exc) from exc


def micros(ns: int) -> orjson.Fragment:
    """``ns`` as a JSON number of µs with exact ns decimals."""
    whole, frac = divmod(abs(ns), 1000)
    return orjson.Fragment(f"{'-' if ns < 0 else ''}{whole}.{frac:03d}")


def trace_event(row: dict[str, Any]) -> dict[str, Any]:
    """One Trace Event from one ``perfetto_slices`` row."""
    ph = row["ph"]
    event: dict[str, Any] = {"ph": ph, "pid": row["pid"], "name": row["name"]}
    if row["tid"] is not None:
        event["tid"] = row["tid"]
    if ph == "M":
        meta = row["meta_name"]
        event["args"] = {"name": meta} if meta is not None else {"sort_index": row["sort_index"]}
        return event
    event["cat"] = row["cat"]
    event["ts"] = micros(row["ts_ns"])
    if ph in ("s", "f"):
        event["id"] = row["flow_id"]
        if ph == "f":
            event["bp"] = "e"  # bind to the slice enclosing ts, the launched / receiving op
        return event
    if ph == "X":
        event["dur"] = micros(row["dur_ns"])
    else:
        event["s"] = "t"  # an instant on its thread's track
    if row["cname"] is not None:
        event["cname"] = row["cname"]
    args = {key: row[key] for key in ARG_COLUMNS if row[key] is not None}
    if row["source_args"] is not None:
        args["source"] = orjson.Fragment(row["source_args"])
    event["args"] = args
    return event


def _chunks(reader: pa.RecordBatchReader, counts: dict[str, int]) -> Iterator[bytes]:
    for batch in reader:
        lines = []
        for row in batch.to_pylist():
            counts[row["ph"]] = counts.get(row["ph"], 0) + 1
            lines.append(orjson.dumps(trace_event(row)))
        if lines:
            yield b",\n".join(lines)


def _open(path: Path, mode: str, *, gz: bool) -> IO[bytes]:
    if gz:
        return igzip.open(path, mode, compresslevel=1)  # type: ignore[return-value]
    return path.open(mode)  # type: ignore[return-value]


def _check_target(path: Path, *, force: bool) -> None:
    if path.is_dir():
        raise InputError(
            f"--perfetto {path}: this is a folder; the export is one file",
            "Pass a file path, e.g. --perfetto run.json.",
        )
    if not path.parent.is_dir():
        raise InputError(
            f"--perfetto {path}: the folder {path.parent} does not exist",
            "Create it first or pass a path in an existing folder.",
        )
    if path.exists() and not force:
        try:
            with _open(path, "rb", gz=path.suffix == ".gz") as f:
                ours = f.read(len(MARKER)) == MARKER
        except (OSError, EOFError):  # unreadable, or not gzip though named .gz: not ours
            ours = False
        if not ours:
            raise InputError(
                f"--perfetto {path}: the file exists and tracekit did not write it; "
                "it was left as it is",
                "Pass --force to replace it, or choose another path.",
            )


def write(con: duckdb.DuckDBPyConnection, run: str, path: Path, *, force: bool = False) -> Export:
    """Write run ``run`` of ``con`` to ``path`` as Chrome Trace Event Format JSON.

    The file is built beside ``path`` and renamed into place when complete, so a failed
    export leaves an earlier file as it was. An existing file tracekit did not write is
    refused (:class:`InputError`) unless ``force``.
    """
    _check_target(path, force=force)
    reader = rows(con, run)
    stage = places.staging_path(path)
    counts: dict[str, int] = {}
    try:
        with _open(stage, "wb", gz=path.suffix == ".gz") as out:
            out.write(MARKER)
            out.write(b',"version":"' + __version__.encode() + b'","run":')
            out.write(orjson.dumps(run))
            out.write(b'},"displayTimeUnit":"ns","traceEvents":[\n')
            first = True
            for chunk in _chunks(reader, counts):
                if not first:
                    out.write(b",\n")
                out.write(chunk)
                first = False
            out.write(b"\n]}\n")
        os.replace(stage, path)
    except OSError as exc:
        stage.unlink(missing_ok=True)
        reason = os.strerror(exc.errno) if exc.errno in errno.errorcode else str(exc)
        raise InputError(
            f"--perfetto {path}: cannot write it ({reason}); nothing was written",
            "Pass a path on a disk with room that you can write to.",
        ) from exc
    except BaseException:
        stage.unlink(missing_ok=True)
        raise
    return Export(path, sum(counts.values()), counts.get("X", 0))
