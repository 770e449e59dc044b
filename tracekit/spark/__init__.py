"""tracekit's views on Apache Spark, over a Parquet dataset (``tracekit import --parquet``).

The SQL is the one of ``queries/`` (the dataset's tables from ``queries/dataset``, the
macros and views of ``queries/macros`` and ``queries/views``), translated from DuckDB to
Spark SQL by :mod:`tracekit.spark.transpile`. ``register_views(spark, root)`` makes any
SparkSession (local, a cluster's, Databricks, EMR) hold the dataset's tables, the rule
tables and every view; ``view_sql()`` is the same as text (``tracekit spark-views``).

pyspark is an optional dependency (``pip install tracekit[spark]``); it is imported only
by the functions that start or use a session.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import sqlglot
from sqlglot import exp

from tracekit import __version__
from tracekit.errors import InputError
from tracekit.resources import queries_dir
from tracekit.spark.errors import UnsupportedSQL
from tracekit.spark.transpile import Catalog, View, translate
from tracekit.store import dataset, schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RULE_TABLES = ("comm_rules", "comm_op_aliases", "dtype_sizes", "label_rules")
"""The rule tables the views read: the shipped rows of ``queries/rules/*.csv``."""

DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
}
"""What ``session`` sets unless ``--spark-conf`` says otherwise."""

_FORBIDDEN = {"reflect", "java_method", "try_reflect"}
"""Functions that call into the JVM: refused in a user's query, which only reads."""


@functools.cache
def views() -> tuple[View, ...]:
    """Every view tracekit registers in Spark, in creation order: the dataset's tables, then
    the views of ``queries/views`` (macros are inlined; table macros with parameters, the
    TUI's helpers, have no Spark form and are left out)."""
    catalog = Catalog()
    catalog.columns.update(schema.table_columns())
    for table in dataset.TABLES:
        catalog.columns[f"_pq_{table}"] = catalog.columns[table] + ["run_id", "rank"]
    out: list[View] = []
    files = [*dataset.view_files(), *_files("macros"), *_files("views")]
    for path in files:
        try:
            out += translate(path.read_text(), catalog)
        except UnsupportedSQL as exc:
            _DUCKDB_ONLY[path.name] = str(exc)
    return tuple(out)


_DUCKDB_ONLY: dict[str, str] = {}


def duckdb_only() -> dict[str, str]:
    """The view files Spark has no form of (file name -> the construct), e.g. the Perfetto
    export's ``UNION ALL BY NAME``: DuckDB only."""
    views()
    return dict(_DUCKDB_ONLY)


def needed(names: Iterable[str]) -> list[View]:
    """The views ``names`` and every view they read, in creation order."""
    by_name = {v.name: v for v in views()}
    wanted: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in by_name and name not in wanted:
            wanted.add(name)
            todo += by_name[name].reads
    return [v for v in views() if v.name in wanted]


def _files(sub: str) -> list[Path]:
    return sorted((queries_dir() / sub).glob("*.sql"), key=lambda p: p.name)


def is_remote(root: str) -> bool:
    """A URL Spark reads (s3a://, hdfs://, file://), not a local folder."""
    return "://" in root


def register_views(
    spark: SparkSession, root: str | Path, only: Iterable[str] | None = None
) -> list[str]:
    """Register the dataset at ``root`` (a folder, or a URL Spark reads: s3a://, hdfs://,
    file://) and every view in ``spark``'s session; returns the view names.

    Temporary views only: ``_pq_<table>`` (the files, run_id and rank from the folder names,
    read as text so run names stay strings), the rule tables, the dataset's tables and
    tracekit's views (``only``: those views and the views they read). The views that other
    registered views read are computed here, once, and kept by the executors
    (``kept_views``); nothing is written to the dataset.
    """
    where = str(root)
    if not is_remote(where):
        where = str(dataset.check_dataset(root).resolve())
    key = "spark.sql.sources.partitionColumnTypeInference.enabled"
    before = spark.conf.get(key)
    spark.conf.set(key, "false")
    try:
        for table in dataset.TABLES:
            folder = f"{where.rstrip('/')}/{table}"
            frame = spark.read.option("basePath", folder).parquet(folder)
            frame.createOrReplaceTempView(f"_pq_{table}")
    finally:
        spark.conf.set(key, before)
    for name, (rows, ddl) in rule_tables().items():
        spark.createDataFrame(rows, ddl).createOrReplaceTempView(name)
    chosen = list(views()) if only is None else needed(only)
    kept = kept_views(chosen)
    for view in chosen:
        create_view(spark, view, keep=view.name in kept)
    return [view.name for view in chosen]


def create_view(spark: SparkSession, view: View, keep: bool) -> None:
    """Register one view (the views it reads registered before); ``keep``: compute it now
    and keep its rows (``localCheckpoint``), so that the views reading it plan over them."""
    # A view keeps its analysed plan: Spark's default (the SQL text, analysed again at every
    # reference) analyses the views' nesting exponentially often (minutes, not seconds).
    stored = "spark.sql.legacy.storeAnalyzedPlanForView"
    before = spark.conf.get(stored)
    spark.conf.set(stored, "true")
    try:
        spark.sql(view.sql)
        if keep:
            spark.table(view.name).localCheckpoint().createOrReplaceTempView(view.name)
    finally:
        spark.conf.set(stored, before)


def kept_views(chosen: Iterable[View]) -> set[str]:
    """The views of ``chosen`` that another of them reads, except the dataset's tables: each
    is computed once, when registered, and kept (``localCheckpoint``: executors' memory and
    disk). Spark inlines every view and every CTE at each reference (the DuckDB SQL's
    MATERIALIZED has no Spark form), so without this the plan of ``event_labels`` alone
    holds 6,520 file scans and ``overlap_by_layer``'s exhausts the driver's memory."""
    chosen = list(chosen)
    read = {name for view in chosen for name in view.reads}
    return {v.name for v in chosen if v.name in read and v.name not in dataset.TABLES}


_SPARK_TYPES = {"VARCHAR": "string", "INTEGER": "int", "BIGINT": "bigint"}


def rule_tables() -> dict[str, tuple[list[tuple[Any, ...]], str]]:
    """The shipped rule tables (loaded by DuckDB from ``queries/rules``, as in a store):
    per table its rows and its Spark schema (DDL)."""
    con = duckdb.connect()
    try:
        schema.create_tables(con)
        schema.load_rule_tables(con)
        out = {}
        for name in RULE_TABLES:
            rel = con.table(name)
            ddl = ", ".join(
                f"{c} {_SPARK_TYPES[str(t)]}" for c, t in zip(rel.columns, rel.types, strict=True)
            )
            out[name] = (rel.fetchall(), ddl)
        return out
    finally:
        con.close()


def script(root: str) -> str:
    """A PySpark script that registers the dataset at ``root`` and every view in the
    session ``spark`` (``SparkSession.builder.getOrCreate()``) without tracekit installed:
    what ``register_views`` does, written out (``tracekit spark-views``)."""
    lines = [
        f'"""tracekit {__version__}: the tables of the Parquet dataset {root} and every view',
        'of queries/views, as temporary views of a SparkSession (docs/parquet.md)."""',
        "from pyspark.sql import SparkSession",
        "",
        "spark = SparkSession.builder.getOrCreate()",
        f"ROOT = {root.rstrip('/')!r}",
        'INFER = "spark.sql.sources.partitionColumnTypeInference.enabled"',
        "before = spark.conf.get(INFER)",
        'spark.conf.set(INFER, "false")  # run_id and rank stay text, as written',
        f"for table in {list(dataset.TABLES)!r}:",
        '    folder = f"{ROOT}/{table}"',
        '    spark.read.option("basePath", folder).parquet(folder).createOrReplaceTempView(',
        '        f"_pq_{table}"',
        "    )",
        "spark.conf.set(INFER, before)",
    ]
    for name, (rows, ddl) in rule_tables().items():
        lines.append(f"spark.createDataFrame({rows!r}, {ddl!r}).createOrReplaceTempView({name!r})")
    lines.append("VIEWS = [")
    lines += [f"    ({view.name!r}, {view.sql!r})," for view in views()]
    lines += [
        "]",
        "# computed once and kept: the views that other views read (Spark would inline them)",
        f"KEPT = {sorted(kept_views(views()))!r}",
        "for name, view in VIEWS:",
        "    spark.sql(view)",
        "    if name in KEPT:",
        "        spark.table(name).localCheckpoint().createOrReplaceTempView(name)",
        "",
    ]
    return "\n".join(lines)


SHOWN_EQUAL = (
    "comm_ops",
    "overlap_by_rank",
    "overlap_by_layer",
    "overlap_by_stage",
    "overlap_by_phase",
    "temporal_breakdown",
    "comm_summary",
    "collective_instances",
)
"""The views tests/spark compares row for row with DuckDB's (issue 18's list), besides the
report's."""

REPORT_VIEWS = (
    "latency_by_run",
    "rank_overview",
    "overlap_by_stage",
    "overlap_by_layer",
    "overlap_by_phase",
    "comm_summary",
    "collective_instances",
    "rank_skew",
    "cpu_side_traces",
)
"""The views `tracekit report` reads (tracekit.analysis.report), one run at a time."""


def report_store(spark: SparkSession, run: str | None) -> tuple[duckdb.DuckDBPyConnection, str]:
    """An in-memory DuckDB holding, as tables, what Spark computed of ``REPORT_VIEWS`` for
    one run (``run``, or the dataset's only run), and that run's name: the report's small
    per-rank results come back to this machine, the heavy lifting stays in Spark."""
    from pyspark.sql.functions import col

    from tracekit import store

    con = duckdb.connect()
    schema.create_tables(con)
    con.execute("DROP TABLE runs")
    con.from_arrow(spark.table("runs").toArrow()).create("runs")
    name = store.pick_run(con, run)
    for view in REPORT_VIEWS:
        frame = spark.table(view).where(col("run_id") == name)
        con.from_arrow(frame.toArrow()).create(view)
    return con, name


def rows(frame: DataFrame, limit: int | None = None) -> list[tuple[Any, ...]]:
    """The rows of a Spark result as tuples (structs as dicts), the first ``limit``."""
    got = frame.limit(limit).collect() if limit is not None else frame.collect()
    return [tuple(v.asDict(recursive=True) if hasattr(v, "asDict") else v for v in r) for r in got]


def check_conf(conf: Iterable[str]) -> dict[str, str]:
    """``key=value`` Spark settings as a dict; anything else is an InputError."""
    settings = {}
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().startswith("spark.") or not value.strip():
            raise InputError(
                f"--spark-conf {item}: expected KEY=VALUE with a Spark setting (spark.*) as "
                "the key",
                "For example --spark-conf spark.sql.shuffle.partitions=8.",
            )
        settings[key.strip()] = value.strip()
    return settings


def session(master: str = "local[*]", conf: Iterable[str] = ()) -> SparkSession:
    """A SparkSession for tracekit: ``master`` and ``conf`` (``key=value`` strings) over
    ``DEFAULT_CONF``. A bad setting, a missing pyspark or Java is an InputError."""
    settings = {**DEFAULT_CONF, **check_conf(conf)}
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise InputError(
            "--engine spark needs pyspark, which is not installed",
            "Install it with `pip install 'tracekit[spark]'` (and Java 17 or later).",
        ) from exc
    builder = SparkSession.builder.master(master).appName("tracekit")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - py4j and the JVM raise many kinds
        raise InputError(
            f"--spark-master {master}: Spark did not start ({_first_line(exc)})",
            "Spark needs Java 17 or later (JAVA_HOME or java on PATH) and a reachable master.",
        ) from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_query(text: str) -> None:
    """Refuse anything but queries (and calls into the JVM): Spark's sql only reads."""
    try:
        statements = [s for s in sqlglot.parse(text, read="spark") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise InputError(f"SQL error: {_first_line(exc)}") from exc
    if not statements:
        raise InputError("no SQL given", "Pass a query, --file FILE, or pipe SQL on stdin.")
    if len(statements) > 1:
        raise InputError(
            f"{len(statements)} statements given: Spark runs one query at a time",
            "Pass one query (a WITH clause can hold the steps).",
        )
    for statement in statements:
        if not isinstance(statement, exp.Query | exp.Describe):
            kind = type(statement).__name__.upper()
            raise InputError(
                f"refused {kind} statement: tracekit sql on Spark only reads the dataset",
                "Run queries (SELECT, WITH ..., DESCRIBE); to save a result use --format csv "
                "or json and redirect the output.",
            )
        for call in statement.find_all(exp.Anonymous):
            if call.name.lower() in _FORBIDDEN:
                raise InputError(
                    f"refused {call.name}(): tracekit sql on Spark only reads the dataset"
                )


def tables_read(text: str) -> list[str]:
    """The tables and views a user's query names (so only those views are registered)."""
    query = sqlglot.parse_one(text, read="spark")
    ctes = {cte.alias for cte in query.find_all(exp.CTE)}
    return sorted({t.name for t in query.find_all(exp.Table) if t.name and t.name not in ctes})


def run_query(spark: SparkSession, text: str) -> DataFrame:
    """A user's query (read-only, see ``check_query``) on a session holding the views;
    Spark's errors become an InputError of one paragraph."""
    check_query(text)
    from pyspark.errors import PySparkException

    try:
        return spark.sql(text.strip().rstrip(";"))
    except PySparkException as exc:
        raise InputError(f"SQL error (Spark): {_first_line(exc)}") from exc
