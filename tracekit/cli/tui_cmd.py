"""`tracekit tui`: browse a database in the terminal."""

from __future__ import annotations

from pathlib import Path

import typer

from tracekit.cli._app import app


@app.command("tui")
def tui_command(
    db: Path = typer.Option(..., "--db", help="tracekit DuckDB database (opened read-only)."),
) -> None:
    """Browse DB interactively: runs, ranks, collectives, overlap, timeline, SQL.

    Keys 1-7 switch screens, ? shows every binding, q quits.

    Example: tracekit tui --db traces.duckdb
    """
    from tracekit.tui.app import TracekitApp

    TracekitApp.open(db).run()
