"""Command-line interface: a thin shell over the Python API.

Each command lives in its own module and registers itself on ``app``.
Errors are translated once, here, into one readable block and exit code 2.
"""

from __future__ import annotations

import importlib
import signal
import sys
import traceback
from typing import Any

from rich.markup import escape

from tracekit import places
from tracekit.cli._app import State, err_console
from tracekit.errors import TracekitError

# command -> the module that registers it on the app, in help order
COMMANDS = {
    "collect": "collect_cmd",
    "doctor": "doctor_cmd",
    "import": "import_cmd",
    "model": "model_cmd",
    "validate": "model_cmd",
    "report": "report_cmd",
    "export": "export_cmd",
    "compare": "compare_cmd",
    "study": "study_cmd",
    "rules": "rules_cmd",
    "sql": "sql_cmd",
    "spark-views": "sql_cmd",
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


class _Signals:
    terminated = False  # SIGTERM arrived (raised like Ctrl+C: an import rolls back, cleans up)


def _terminate(signum: int, frame: object) -> None:
    _Signals.terminated = True
    raise KeyboardInterrupt


def main() -> None:
    """Run the CLI; errors end here, each as one paragraph and an exit status.

    2: bad input, nothing changed (:class:`TracekitError`); 3: part of the work landed
    (:class:`PartialError`, the message says what); 1: a bug in tracekit (any other
    exception); 130/143: interrupted / terminated. ``--debug`` adds the traceback and
    keeps the status.
    """
    register(sys.argv[1:])
    from tracekit.cli._app import app

    signal.signal(signal.SIGTERM, _terminate)
    places.sweep()
    try:
        app(prog_name="tracekit")
    except SystemExit:  # Click turns Ctrl+C (and so SIGTERM) into exit status 130
        if _Signals.terminated:
            err_console.print("terminated")
            sys.exit(143)
        raise
    except TracekitError as exc:
        _fail(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("terminated" if _Signals.terminated else "interrupted")
        sys.exit(143 if _Signals.terminated else 130)
    except Exception as exc:
        _fail(
            f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}",
            "This is a bug in tracekit. Run the command again with --debug (before the "
            "command) for the traceback, and report it.",
        )
        sys.exit(1)


def _fail(message: str, hint: str | None) -> None:
    if State.debug:
        traceback.print_exc()
    err_console.print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True)
    if hint:
        err_console.print(f"[dim]{escape(hint)}[/dim]", soft_wrap=True)
