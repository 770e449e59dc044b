"""Write a store's runs as a Hive-partitioned Parquet dataset, one folder per (run, rank).

Layout (see docs/parquet.md)::

    DIR/<table>/run_id=<run>/rank=<rank>/part-0.parquet

for the tables ``store.PARQUET_TABLES`` (runs, traces, events, threads, rank_layout).
The partition columns are not repeated inside the files (Spark and DuckDB add
them back from the path; values are percent-encoded). Every GPU host can convert
its own ranks and copy the folders into one shared dataset: no two hosts write the
same file.

Two things differ from the DuckDB store so that datasets from several hosts can be
unioned:

- ``trace_id`` is a BIGINT derived from (run, rank, format, sha256) instead of a
  per-database counter;
- ``events.ts_ns`` stays relative to the ``time_offset_ns`` of its trace, which
  each host fixed from its own ranks; readers rebase it on the run's earliest
  origin (``store.attach_parquet`` does this).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

import duckdb

from tracekit import places, store
from tracekit.errors import InputError


def global_trace_id(run_id: str, rank: int, fmt: str, sha256: str) -> int:
    """A trace id that is the same on every host: 60 bits of md5(run/rank/format/sha)."""
    key = f"{run_id}\x1f{rank}\x1f{fmt}\x1f{sha256}".encode()
    return int(hashlib.md5(key, usedforsecurity=False).hexdigest()[:15], 16)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def partition(run_id: str, rank: int) -> str:
    return f"run_id={quote(run_id, safe='')}/rank={rank}"


def export_parquet(
    con: duckdb.DuckDBPyConnection, out: Path, runs: list[str] | None = None
) -> list[tuple[str, int]]:
    """Write every (run, rank) of ``runs`` (default: all) under ``out``; returns them.

    A (run, rank) folder that exists already is replaced, so converting again is safe.
    """
    where = "" if runs is None else "WHERE list_contains(?, run_id)"
    params = [] if runs is None else [runs]
    traces = con.execute(
        f"SELECT trace_id, run_id, rank, format, sha256 FROM traces {where}", params
    ).fetchall()
    if not traces:
        return []
    con.execute("CREATE OR REPLACE TEMP TABLE _pq_ids (trace_id INTEGER, gid BIGINT)")
    con.executemany(
        "INSERT INTO _pq_ids VALUES (?, ?)",
        [(t, global_trace_id(r, k, f, s)) for t, r, k, f, s in traces],
    )
    parts = sorted({(run, rank) for _, run, rank, _, _ in traces})
    options = "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
    try:
        for run, rank in parts:
            where_rank = f"t.run_id = {_lit(run)} AND t.rank = {rank}"
            queries = {
                "runs": f"SELECT * EXCLUDE (run_id) FROM runs WHERE run_id = {_lit(run)}",
                "traces": "SELECT t.* EXCLUDE (run_id, rank) REPLACE (m.gid AS trace_id) "
                f"FROM traces t JOIN _pq_ids m USING (trace_id) WHERE {where_rank}",
                "events": "SELECT e.* REPLACE (m.gid AS trace_id) FROM events e "
                "JOIN _pq_ids m USING (trace_id) JOIN traces t USING (trace_id) "
                f"WHERE {where_rank} ORDER BY e.event_id",
                "threads": "SELECT h.* REPLACE (m.gid AS trace_id) FROM threads h "
                "JOIN _pq_ids m USING (trace_id) JOIN traces t USING (trace_id) "
                f"WHERE {where_rank}",
                "rank_layout": "SELECT * EXCLUDE (run_id, rank) FROM rank_layout t "
                f"WHERE {where_rank}",
            }
            for table in store.PARQUET_TABLES:
                query = queries[table]
                folder = out / table / partition(run, rank)
                if folder.exists():
                    shutil.rmtree(folder)
                folder.mkdir(parents=True)
                target = folder / "part-0.parquet"
                con.execute(f"COPY ({query}) TO {_lit(str(target))} {options}")
    except (OSError, duckdb.IOException) as exc:
        raise InputError(f"{out}: cannot write the Parquet dataset ({exc})") from exc
    finally:
        con.execute("DROP TABLE IF EXISTS _pq_ids")
    return parts


def convert_run(run_dir: Path, out: Path, *, run: str | None = None) -> list[tuple[str, int]]:
    """Convert one collected run folder (every trace under it) straight to Parquet.

    Meant to run on the GPU host right after collection (``tracekit collect
    --parquet``): the traces are imported into a scratch DuckDB file next to the
    output (bounded memory), written out per rank, and the scratch file removed.
    Returns the (run, rank) partitions written.
    """
    from tracekit.ingest.loader import import_paths

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tracekit-", dir=out) as scratch:
        places.remove_if_killed(Path(scratch))
        db = Path(scratch) / "convert.duckdb"
        summary = import_paths(db, [run_dir], run=run)
        with store.open(db, read_only=False) as con:
            return export_parquet(con, out, summary.runs)
