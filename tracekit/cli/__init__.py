"""Command-line interface: a thin shell over the Python API.

Each command lives in its own module and registers itself on ``app``.
Errors are translated once, here, into one readable block and exit code 2.
"""

from __future__ import annotations

import sys

from rich.panel import Panel

from tracekit.cli import import_cmd, report_cmd, sql_cmd  # noqa: F401  (registers commands)
from tracekit.cli._app import State, app, err_console
from tracekit.errors import TracekitError


def main() -> None:
    try:
        app()
    except TracekitError as exc:
        if State.debug:
            raise
        body = exc.message if not exc.hint else f"{exc.message}\n\n[dim]{exc.hint}[/dim]"
        err_console.print(Panel(body, title="tracekit: error", border_style="red", expand=False))
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
