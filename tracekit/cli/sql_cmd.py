"""`tracekit sql`: run SQL on a tracekit database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

import typer

from tracekit import store
from tracekit.cli._app import app, console
from tracekit.cli._engine import Engine, SparkConf, SparkMaster, spark_module, spark_views
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
    engine: Engine = "duckdb",
    spark_master: SparkMaster = "local[*]",
    spark_conf: SparkConf = None,
) -> None:
    """Run SQL against DB (opened read-only); every view of the schema is there.

    With --engine spark the dataset's tables and every view are registered in Spark
    (docs/parquet.md) and the query, one SELECT in Spark SQL, runs there.

    Example: tracekit sql --db traces.duckdb "SELECT * FROM overlap_by_rank"
    Example: tracekit sql --parquet traces.parquet "SELECT * FROM overlap_by_rank"
    Example: tracekit sql --engine spark --parquet traces.parquet "SELECT * FROM comm_summary"
    """
    text = _sql_text(query, file)
    if not text.strip():
        raise InputError("no SQL given", "Pass a query, --file FILE, or pipe SQL on stdin.")
    if engine == "spark":
        _spark_sql(text, db, parquet, spark_master, spark_conf, fmt, limit)
        return
    if (db is None) == (parquet is None):
        raise InputError("pass exactly one of --db FILE and --parquet DIR")
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


def _spark_sql(
    text: str,
    db: Path | None,
    parquet: Path | None,
    master: str,
    conf: list[str] | None,
    fmt: str,
    limit: int,
) -> None:
    spark = spark_module()
    spark.check_query(text)
    session = spark_views(db, parquet, master, conf, spark.tables_read(text))
    frame = spark.run_query(session, text)
    if fmt == "table":
        rows = spark.rows(frame, limit + 1)
        print_table(console, frame.columns, rows[:limit], more=len(rows) > limit)
    else:
        write_rows(sys.stdout, fmt, frame.columns, spark.rows(frame))


@app.command("spark-views")
def spark_views_command(
    parquet: str = typer.Argument(
        ..., help="The dataset (a folder, or a URL Spark reads) the printed code registers."
    ),
) -> None:
    """Print Python that registers a dataset's tables and every tracekit view in your own
    SparkSession (spark-submit, Databricks, EMR), then the Spark SQL of the views.

    Example: tracekit spark-views /shared/tk
    """
    from tracekit.store import dataset

    spark = spark_module()
    if not spark.is_remote(parquet):
        dataset.check_dataset(parquet)
    sys.stdout.write(spark.script(parquet))


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
