"""A Parquet dataset (``tracekit import --parquet``) seen as a store.

The dataset holds the tables ``TABLES`` as ``<table>/run_id=<run>/rank=<rank>/*.parquet``
(docs/parquet.md; written by ``tracekit.ingest.parquet``). One place defines how a
dataset becomes the store's tables, for DuckDB and Spark alike: ``queries/dataset/``.

- ``00_dataset_files.sql``: the DuckDB macro ``dataset_files(root, tbl)`` that reads one
  table's files (run_id, rank from the folder names). ``_pq_events`` is a view over it,
  the other ``_pq_<table>`` (a few rows per trace) are read into tables once. Spark
  registers the same ``_pq_<table>`` from ``spark.read.parquet`` (``tracekit.spark``).
- ``NN_<table>.sql``, one per table of ``TABLES`` (their names make the list): the table
  as a view over ``_pq_<table>`` with the store's column names, order and types, one row
  per run in ``runs``, events and traces on the run's common timeline. Spark runs them
  transpiled.

``attach_parquet`` makes an in-memory DuckDB look like a database file: these views,
then the rule tables and every view of ``queries/views``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tracekit.errors import InputError
from tracekit.resources import queries_dir
from tracekit.store.schema import create_tables, create_views, load_rule_tables

FILES_MACRO = "00_dataset_files.sql"


def view_files() -> list[Path]:
    """The dataset's table views (``queries/dataset/NN_<table>.sql``), in the order to create."""
    return sorted(p for p in (queries_dir() / "dataset").glob("*.sql") if p.name != FILES_MACRO)


TABLES = tuple(p.stem.split("_", 1)[1] for p in view_files())
"""The tables a dataset holds, in the order their views are created."""


def check_dataset(root: str | Path) -> Path:
    """``root`` as a path, after checking it holds Parquet files for every table."""
    base = Path(root)
    if not base.is_dir() or not (base / "events").is_dir():
        raise InputError(
            f"{base}: not a tracekit Parquet dataset (no events/ folder)",
            "Write one with `tracekit import TRACES... --parquet DIR`.",
        )
    for table in TABLES:
        if not next((base / table).glob("**/*.parquet"), None):
            raise InputError(
                f"{base}: not a complete tracekit Parquet dataset (no Parquet files under "
                f"{table}/)",
                "Every converted rank writes runs/, traces/, events/, threads/ and "
                "rank_layout/; convert it again with `tracekit import TRACES... --parquet DIR`.",
            )
    return base


def attach_parquet(con: duckdb.DuckDBPyConnection, root: str | Path) -> None:
    """Make ``con`` (an in-memory DuckDB) a store over a Parquet dataset.

    ``root`` holds ``<table>/run_id=<run>/rank=<rank>/*.parquet`` as written by
    ``tracekit import --parquet`` (docs/parquet.md). Each table becomes the view of
    ``queries/dataset/`` (the store's column names and types; ``trace_id`` is a BIGINT
    there); the rule tables are loaded and every view of ``queries/views`` is created, so
    the same SQL runs on a database file and on a dataset.
    """
    base = check_dataset(root)
    create_tables(con)
    con.execute((queries_dir() / "dataset" / FILES_MACRO).read_text())
    for table in TABLES:
        files = con.table_function("dataset_files", [str(base), table])
        if table == "events":
            files.create_view(f"_pq_{table}")  # read where a query needs it
        else:  # a few rows per trace, read by the events view at every reference: read once
            files.create(f"_pq_{table}")
        con.execute(f"DROP TABLE {table}")
    for path in view_files():
        con.execute(path.read_text())
    load_rule_tables(con)
    create_views(con)
