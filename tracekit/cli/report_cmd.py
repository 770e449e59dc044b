"""`tracekit report`: overlap, exposed communication and skew of one run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl
import typer
from rich.text import Text

from tracekit import store
from tracekit.analysis import cpu_side_traces, report, timing
from tracekit.cli._app import app, console, make_plot_folder, refuse_plot_file
from tracekit.cli._engine import Engine, SparkConf, SparkMaster, spark_module, spark_views
from tracekit.errors import InputError
from tracekit.render import ns_as_ms, print_table, write_json, write_rows

Section = Literal[report.SECTIONS]  # type: ignore[valid-type]  # --section's choices

TITLES = {
    "latency": "Latency (from step ranges) and its exposed-communication share",
    "ranks": "Per rank: communication, compute, overlap, memory, idle",
    "stages": "Per pipeline stage",
    "layers": "Per layer (unattributed time in the empty-layer row)",
    "phases": "Per phase",
    "comm_summary": "Communication by op and message size (nccl-tests bandwidths)",
    "top_collectives": "Top collective instances by total wait",
    "skew": "Cross-rank skew: arrival delay and waiting per rank",
}

TPOTS = ["tpot_ns", "manifest_tpot_ms"]
TPOT_NOTE = (
    "note: tpot_ms is measured from the traces' step ranges, (end of the last decode step - "
    "end of the last prefill step) / decode steps, where a step ends when its last rank "
    "leaves it; manifest_tpot_ms is the collector's clock on rank 0, (end-to-end - TTFT) / "
    "(generated tokens - 1), up to the moment rank 0 holds each token. The two time "
    "different intervals, so they differ; compare runs on one of them."
)

LABELS = {"latency": "step", "stages": "stage", "layers": "layer", "phases": "phase"}
"""The label each section is broken down by (latency: the step ranges)."""


def _unlabelled(key: str, df: pl.DataFrame) -> bool:
    """A section whose label the run's traces do not carry: no steps, or its label all NULL."""
    if key == "latency":
        return df.height == 0
    return key in LABELS and df.height > 0 and df[LABELS[key]].null_count() == df.height


def _empty(keys: list[str]) -> str:
    """What the unlabelled sections would show."""
    rows = [k for k in keys if k != "latency"]
    parts = ["latency would have no steps"] if "latency" in keys else []
    if rows:
        parts.append(f"{', '.join(rows)} would be one unlabelled row per rank (as Per rank)")
    return " and ".join(parts)


def _missing_labels(run: str, db: Path, keys: list[str]) -> str:
    *most, last = dict.fromkeys(LABELS[k] for k in keys)
    labels = f"{', '.join(most)} or {last}" if most else last
    return (
        f"not shown: {', '.join(keys)}. Run {run} has no {labels} labels: none of its "
        f"annotation ranges (NVTX, record_function) matches a label rule, so {_empty(keys)}. "
        "To get them, annotate the work with tk:step=N phase=prefill|decode, "
        "tk:stage=N and tk:layer=N ranges (tracekit collect does; docs/collect.md), or map "
        "the range names the traces do have with label rules: tracekit rules add "
        f"my_labels.csv --db {db} --table label_rules (docs/analyses.md, Attribution)."
    )


def _cpu_side(run: str, db: Path, traces: int) -> str:
    return (
        f"not shown: {traces} traces of run {run} hold the CPU side of a GPU run only (NCCL "
        "calls but no kernels: torch.profiler beside nsys, collect --profiler both), so they "
        "measure no communication, overlap or step times (docs/analyses.md, cpu_side_traces). "
        f"The same ranks' Nsight Systems traces do: tracekit report --db {db} --run {run}-nsys."
    )


def _parse_window(window: str | None) -> tuple[int | None, int | None]:
    if window is None:
        return None, None
    try:
        lo, hi = (float(x) for x in window.split(":"))
    except ValueError as exc:
        raise InputError(f"--window {window}: expected START_MS:END_MS, e.g. 120.5:180") from exc
    if hi <= lo:
        raise InputError(f"--window {window}: the end must come after the start")
    return round(lo * 1e6), round(hi * 1e6)


@contextmanager
def _open(
    db: Path | None,
    parquet: Path | None,
    run: str | None,
    engine: str,
    master: str,
    conf: list[str] | None,
) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """The store the report reads and the run it reports: a database or dataset in DuckDB,
    or (Spark) an in-memory DuckDB holding what Spark computed for the run."""
    if engine == "spark":
        spark = spark_module()
        session = spark_views(db, parquet, master, conf, ["runs", *spark.REPORT_VIEWS])
        con, name = spark.report_store(session, run)
        try:
            yield con, name
        finally:
            con.close()
        return
    with store.open(db, read_only=True, parquet=parquet) as con:
        yield con, store.pick_run(con, run)


@app.command("report")
def report_command(
    db: Path | None = typer.Option(None, "--db", help="tracekit DuckDB database."),
    parquet: Path | None = typer.Option(
        None, "--parquet", help="A Parquet dataset written by `tracekit import --parquet`."
    ),
    run: str | None = typer.Option(None, "--run", help="Run to report (needed if several)."),
    fmt: Literal["table", "json", "csv"] = typer.Option("table", "--format", help="Output."),
    section: Section | None = typer.Option(None, "--section", help="Only this section."),
    top: int = typer.Option(10, "--top", help="Collective instances listed in top_collectives."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Also write charts (PNG and SVG) into this folder."
    ),
    window: str | None = typer.Option(
        None,
        "--window",
        help="Timeline window START_MS:END_MS on the run timeline "
        "(default: the first decode step, else the whole run).",
    ),
    engine: Engine = "duckdb",
    spark_master: SparkMaster = "local[*]",
    spark_conf: SparkConf = None,
) -> None:
    """Report per rank, stage, layer and phase overlap, top collectives and skew.

    JSON prints one object of sections; CSV prints every section as a `# name` line then
    its rows (or only --section).

    With --engine spark, Spark computes the views over a Parquet dataset and only the
    report's rows come back (no --plot).

    Example: tracekit report --db traces.duckdb --run tp2pp2 --plot charts/
    Example: tracekit report --engine spark --parquet traces.parquet --run tp2pp2
    """
    start_ns, end_ns = _parse_window(window)
    if engine == "spark" and plot is not None:
        raise InputError(
            "--plot needs --engine duckdb (the charts read the timeline of every event)",
            "Run tracekit report --parquet DIR --plot DIR without --engine spark.",
        )
    if engine == "duckdb" and (db is None) == (parquet is None):
        raise InputError("pass exactly one of --db FILE and --parquet DIR")
    refuse_plot_file(plot, "charts")
    source = db or parquet
    with _open(db, parquet, run, engine, spark_master, spark_conf) as (con, name):
        full = report.build(con, run=name, top=top)
        sections = full if section is None else {section: full[section]}
        if fmt == "table":
            console.print(
                Text.assemble(
                    ("tracekit report", "bold"), "  run ", (name, "cyan"), f"  ({source})"
                )
            )
            cpu_side = len(cpu_side_traces(con, run=name).rows)
            unlabelled = [
                key for key, df in sections.items() if not cpu_side and _unlabelled(key, df)
            ]
            for key, df in sections.items():
                if key in unlabelled or (cpu_side and df.height == 0):
                    continue
                shown = ns_as_ms(df)
                if shown.height == 1 and shown.width > 8:
                    # one wide row (latency) reads better as name / value pairs
                    pairs = list(zip(shown.columns, shown.row(0), strict=True))
                    print_table(console, ["metric", "value"], pairs, title=TITLES[key])
                    if key == "latency" and None not in df.select(TPOTS).row(0):
                        console.print(Text(TPOT_NOTE, style="dim"))
                else:
                    print_table(console, shown.columns, shown.rows(), title=TITLES[key])
            if unlabelled:
                console.print(Text(_missing_labels(name, source, unlabelled), style="yellow"))
            if cpu_side:
                console.print(Text(_cpu_side(name, source, cpu_side), style="yellow"))
        elif fmt == "json":
            body = {key: df.to_dicts() for key, df in sections.items()}
            write_json(sys.stdout, {"run_id": name, "sections": body})
        else:
            for key, df in sections.items():
                if section is None:
                    sys.stdout.write(f"# {key}\n")
                write_rows(sys.stdout, "csv", df.columns, df.rows())
        if plot is not None:
            from tracekit.analysis import plots  # matplotlib loads only when charts are asked for

            make_plot_folder(plot, "charts")

            lo, hi = timing.default_window(con, name)
            lo = lo if start_ns is None else start_ns
            hi = hi if end_ns is None else end_ns
            written = [
                *plots.timeline(
                    timing.timeline(con, run=name, start_ns=lo, end_ns=hi).frame,
                    plot,
                    start_ns=lo,
                    end_ns=hi,
                    title=f"{name}: compute (upper) and communication (lower) per rank",
                ),
                *plots.overlap_by_layer(full["layers"], plot),
                *plots.exposed_by_stage(full["stages"], plot),
            ]
            if fmt == "table":
                console.print(Text("charts: " + ", ".join(str(p) for p in written)))
