"""``tracekit compare``: the runs of a store side by side, measured and predicted."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import polars as pl
import typer
from rich.text import Text

from tracekit import store
from tracekit.cli._app import app, console, make_plot_folder, refuse_plot_file
from tracekit.render import ns_as_ms, print_table, write_json, write_rows
from tracekit.study.compare import Comparison, comparison
from tracekit.study.report import MAIN, markdown_table

Format = Literal["table", "json", "csv", "markdown"]


def show(result: Comparison, fmt: str, title: str) -> None:
    """Print a comparison in ``fmt``; then what could not be compared (table, markdown)."""
    runs = result.runs
    if fmt == "json":
        by_op = result.by_op.partition_by("run_id", as_dict=True) if len(result.by_op) else {}
        body = [
            {**row, "by_op": by_op[(row["run_id"],)].drop("run_id").to_dicts()}
            if (row["run_id"],) in by_op
            else {**row, "by_op": []}
            for row in runs.to_dicts()
        ]
        write_json(sys.stdout, body)
        return
    if fmt == "csv":
        write_rows(sys.stdout, "csv", runs.columns, runs.rows())
        return
    shown = ns_as_ms(runs.select(MAIN)) if len(runs) else pl.DataFrame()
    if fmt == "markdown":
        sys.stdout.write(f"## {title}\n\n{markdown_table(shown)}\n")
    else:
        units = {c: "bytes" for c in ("bytes", "pred_bytes", "max_rank_bytes", "tp_lane_bytes")}
        units["bytes_ratio"] = "ratio"
        print_table(console, shown.columns, shown.rows(), title=title, units=units)
    for run_id, note in result.notes():
        line = f"{run_id}: {note}"
        if fmt == "markdown":
            sys.stdout.write(f"- {line}\n")
        else:
            console.print(Text(line, style="yellow"))


def write_figures(result: Comparison, plot: Path) -> list[Path]:
    """The study's figures of ``result`` into ``plot`` (matplotlib loads only here)."""
    from tracekit.study import figures

    make_plot_folder(plot, "figures")
    return figures.all_figures(result, plot)


@app.command("compare")
def compare_command(
    db: Annotated[Path, typer.Option("--db", help="tracekit database.")],
    runs: Annotated[
        str | None, typer.Option("--runs", help="Comma-separated run ids (default: all).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output.")] = "table",
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also write the figures (PNG, SVG) here.")
    ] = None,
) -> None:
    """Compare runs side by side: layout, workload, measured communication with the
    model's prediction for the same layout beside it, TTFT, TPOT, end-to-end latency and
    the communication shares, sorted by measured bytes (docs/study.md explains each
    column). Runs without a collect manifest keep their measurements and say what
    cannot be compared.

    Example: tracekit compare --db study/study.duckdb --format markdown
    """
    refuse_plot_file(plot, "figures")
    names = [r.strip() for r in runs.split(",") if r.strip()] if runs is not None else None
    with store.open(db, read_only=True) as con:
        result = comparison(con, runs=names)
    show(result, fmt, f"runs of {db}, by measured bytes")
    if plot is not None:
        written = write_figures(result, plot)
        if fmt == "table":
            console.print(Text("figures: " + ", ".join(str(p) for p in written)))
