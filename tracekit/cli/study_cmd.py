"""``tracekit study``: every layout of a GPU count, collected, imported and compared."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from tracekit import store
from tracekit.cli._app import app, choice, console, err_console, refuse_plot_file
from tracekit.cli.compare_cmd import Format, show, write_figures
from tracekit.collect.runner import BACKENDS, DEVICES, DTYPES, CollectSpec, resolve_shape
from tracekit.errors import PartialError, TracekitError
from tracekit.study.compare import comparison
from tracekit.study.report import write_report
from tracekit.study.sweep import (
    DB_NAME,
    Point,
    parse_ints,
    parse_layouts,
    plan,
    run_study,
    study_shape,
)


@app.command("study")
def study_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Study folder (created; resumable).")],
    gpus: Annotated[int, typer.Option("--gpus", help="Ranks per layout: TP x PP.")] = 4,
    model: Annotated[str, typer.Option(help="Shape preset: tiny, llama-3.1-8b, …")] = "tiny",
    layouts: Annotated[
        str | None,
        typer.Option(help="Layouts, e.g. tp4,pp4,tp2pp2 (default: every TP x PP = --gpus)."),
    ] = None,
    batch: Annotated[str, typer.Option(help="Batch sizes, comma-separated.")] = "2",
    prompt_len: Annotated[str, typer.Option(help="Prompt lengths, comma-separated.")] = "16",
    gen_len: Annotated[str, typer.Option(help="Output lengths, comma-separated.")] = "8",
    dtype: Annotated[str, typer.Option(help="auto or a dtype name.")] = "auto",
    device: Annotated[str, typer.Option(help="auto (GPU if present), cpu or cuda.")] = "auto",
    backend: Annotated[str, typer.Option(help="auto (nccl on GPU), gloo or nccl.")] = "auto",
    timeout: Annotated[
        float | None, typer.Option(help="Seconds before one layout's hung run is stopped.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output of the comparison.")] = "table",
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Folder for the figures (PNG, SVG); default OUT/figures."),
    ] = None,
) -> None:
    """Run every parallel layout of --gpus ranks (or --layouts) for each --batch,
    --prompt-len and --gen-len, each with `tracekit collect` into OUT/runs/<run>, import
    them into OUT/study.duckdb, print the comparison (`tracekit compare`) and write
    OUT/report.md, a self-contained OUT/report.html and the figures. A layout
    that fails is reported and the others still run (exit status 3); running the same
    command again skips the runs already imported.

    Example (CPU, about three minutes): tracekit study --gpus 4 --gen-len 3,6 --out study
    """
    choice(dtype, ("auto", *DTYPES), "--dtype")
    choice(device, DEVICES, "--device")
    choice(backend, BACKENDS, "--backend")
    refuse_plot_file(plot, "figures")
    say = console if fmt == "table" else err_console  # stdout stays one document
    pairs = parse_layouts(layouts, gpus)
    shape = resolve_shape(model, None, {})
    same = study_shape(shape, pairs)
    if same != shape:
        say.print(
            Text(
                f"{shape.name}: {shape.kv_heads} KV heads do not split over every TP degree; "
                f"every layout runs with {same.kv_heads} (docs/study.md)",
                style="yellow",
            ),
            soft_wrap=True,
        )
    points = plan(
        pairs,
        parse_ints(batch, "--batch"),
        parse_ints(prompt_len, "--prompt-len"),
        parse_ints(gen_len, "--gen-len"),
    )
    base = CollectSpec(
        tp=1,
        pp=1,
        shape=same,
        dtype=dtype,
        device=device,
        backend=backend,
    )

    def progress(index: int, point: Point, what: str) -> None:
        say.print(Text(f"[{index + 1}/{len(points)}] {point.name}: {what}"))

    outcomes = run_study(
        points,
        base,
        out,
        command_line=["tracekit", *sys.argv[1:]],
        timeout_s=timeout,
        progress=progress,
    )
    failed = [o for o in outcomes if o.status == "failed"]
    db = out / DB_NAME
    if db.exists():
        with store.open(db, read_only=True) as con:
            result = comparison(con, runs=[o.point.name for o in outcomes if o.status != "failed"])
        show(result, fmt, f"study {out}: {len(outcomes) - len(failed)} of {len(points)} runs")
        figures = write_figures(result, plot or out / "figures")
        written = write_report(result, out, figures[0].parent if figures else None)
        if fmt == "table":
            console.print(Text("report: " + ", ".join(str(p) for p in written)))
    if failed:
        message = "; ".join(f"{o.point.name}: {o.error}" for o in failed)
        if len(failed) == len(points):
            raise TracekitError(
                f"every run of the study failed ({message})",
                "Each run's log is in its folder under " + str(out / "runs") + ".",
            )
        raise PartialError(
            f"{len(failed)} of {len(points)} runs failed ({message})",
            "The others are in " + str(db) + "; run the same command again to retry the "
            "failed ones (finished runs are skipped).",
        )
