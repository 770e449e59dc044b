"""`tracekit sql`: run SQL on a tracekit database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

import typer

from tracekit import store
from tracekit.cli._app import app, console
from tracekit.errors import InputError
from tracekit.render import print_table, write_rows


@app.command("sql")
def sql_command(
    query: str | None = typer.Argument(
        None, help="SQL to run; '-' or nothing reads it from stdin."
    ),
    db: Path | None = typer.Option(None, "--db", help="tracekit DuckDB database."),
    parquet: Path | None = typer.Option(
        None, "--parquet", help="A Parquet dataset written by `tracekit import --parquet`."
    ),
    file: Path | None = typer.Option(None, "--file", "-f", help="Read the SQL from this file."),
    fmt: Literal["table", "csv", "json"] = typer.Option("table", "--format", help="Output."),
    limit: int = typer.Option(
        1000, "--limit", help="Rows shown by the table format (csv/json print all)."
    ),
) -> None:
    """Run SQL against DB (opened read-only); every view of the schema is there.

    Example: tracekit sql --db traces.duckdb "SELECT * FROM overlap_by_rank"
    Example: tracekit sql --parquet traces.parquet "SELECT * FROM overlap_by_rank"
    """
    if (db is None) == (parquet is None):
        raise InputError("pass exactly one of --db FILE and --parquet DIR")
    text = _sql_text(query, file)
    if not text.strip():
        raise InputError("no SQL given", "Pass a query, --file FILE, or pipe SQL on stdin.")
    with store.open(db, read_only=True, parquet=parquet) as con:
        cursor = store.run_query(con, text)
        if cursor.description is None:
            return
        columns = [d[0] for d in cursor.description]
        if fmt == "table":
            rows = cursor.fetchmany(limit + 1)
            print_table(console, columns, rows[:limit], more=len(rows) > limit)
        else:
            write_rows(sys.stdout, fmt, columns, cursor.fetchall())


def _sql_text(query: str | None, file: Path | None) -> str:
    """The SQL from the argument, ``--file`` or stdin; bytes that are not UTF-8 are refused."""
    if file is None and query is not None and query != "-":
        return query
    name = str(file) if file is not None else "stdin"
    try:
        data = file.read_bytes() if file is not None else sys.stdin.buffer.read()
    except OSError as exc:
        raise InputError(f"{name}: cannot read the SQL file ({exc.strerror})") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: not SQL text (byte {exc.start} is not UTF-8; a binary file?)",
            "Pass a file of SQL statements in UTF-8.",
        ) from exc
