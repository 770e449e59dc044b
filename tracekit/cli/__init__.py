"""Command-line interface: a thin shell over the Python API.

Each command lives in its own module and registers itself on ``app``.
Errors are translated once, here, into one readable block and exit code 2.
"""

from __future__ import annotations

import sys

from rich.markup import escape

from tracekit.cli import (  # noqa: F401  (registers commands)
    collect_cmd,
    import_cmd,
    model_cmd,
    report_cmd,
    rules_cmd,
    sql_cmd,
    tui_cmd,
)
from tracekit.cli._app import State, app, err_console
from tracekit.errors import TracekitError


def main() -> None:
    try:
        app()
    except TracekitError as exc:
        if State.debug:
            raise
        err_console.print(f"[bold red]error:[/bold red] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            err_console.print(f"[dim]{escape(exc.hint)}[/dim]", soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
