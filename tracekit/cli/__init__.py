"""Command-line interface: a thin shell over the Python API.

Each command lives in its own module and registers itself on ``app``.
Errors are translated once, here, into one readable block and exit code 2.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from rich.markup import escape

from tracekit.cli._app import State, err_console
from tracekit.errors import TracekitError

# command -> the module that registers it on the app, in help order
COMMANDS = {
    "collect": "collect_cmd",
    "import": "import_cmd",
    "model": "model_cmd",
    "validate": "model_cmd",
    "report": "report_cmd",
    "rules": "rules_cmd",
    "sql": "sql_cmd",
    "tui": "tui_cmd",
}


def register(argv: list[str] | None = None) -> None:
    """Import the command modules: only the one ``argv`` names, else all of them.

    ``tracekit import`` then does not pay for the libraries of the other
    commands (polars, the model, the collector), about 0.2 s of start-up.
    """
    word = next((arg for arg in argv or [] if not arg.startswith("-")), None)
    names = [COMMANDS[word]] if word in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in names:
        importlib.import_module(f"tracekit.cli.{name}")


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole CLI, every command registered (tests, embedding)
        register()
        from tracekit.cli._app import app

        return app
    raise AttributeError(name)


def main() -> None:
    register(sys.argv[1:])
    from tracekit.cli._app import app

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
