"""`tracekit export`: a run's timeline as a file another viewer opens."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.text import Text

from tracekit import store
from tracekit.analysis import MissingView, perfetto
from tracekit.cli._app import app, console
from tracekit.errors import InputError


@app.command("export")
def export_command(
    out: Path = typer.Option(
        ...,
        "--perfetto",
        help="Chrome Trace Event Format JSON file to write, gzipped if it ends in .gz "
        "(opens in ui.perfetto.dev and chrome://tracing).",
    ),
    db: Path = typer.Option(..., "--db", help="tracekit DuckDB database."),
    run: str | None = typer.Option(None, "--run", help="Run to export (needed if several)."),
    force: bool = typer.Option(
        False, "--force", help="Replace FILE even if tracekit did not write it."
    ),
) -> None:
    """Export every rank of a run on the run's common timeline for Perfetto.

    One process per rank, a track per thread and GPU stream, communication in its own
    category and colour, labels and collective instances in each slice's args, flows from
    CPU launches to kernels and from pipeline sends to their receives. An existing FILE is
    replaced only if an earlier export wrote it (or with --force).

    Example: tracekit export --perfetto run.json --db traces.duckdb --run tp2pp2
    """
    with store.open(db, read_only=True) as con:
        name = store.pick_run(con, run)
        try:
            done = perfetto.write(con, name, out, force=force)
        except MissingView as exc:  # a database made before tracekit could export
            raise InputError(f"{db}: {exc.message}", exc.hint) from exc
    console.print(
        Text.assemble(
            "wrote ",
            (str(done.path), "cyan"),
            f": run {name}, {done.slices} slices, {done.events} trace events "
            "(open it in https://ui.perfetto.dev or chrome://tracing)",
        ),
        soft_wrap=True,
    )
