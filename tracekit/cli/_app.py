"""The Typer application every command module registers on.

Help reads as the README promises: paragraphs wrapped to the terminal (not to the
docstring's lines), flags without a type after them, and the examples last, after the
options, each whole on its own line (:class:`ExamplesLast`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from tracekit import __version__
from tracekit.errors import InputError


def choice(value: str, allowed: Sequence[str], option: str) -> str:
    """``value`` if it is one of ``allowed``, else the one error naming the option."""
    if value not in allowed:
        raise InputError(f"{option} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def refuse_plot_file(plot: Path | None, noun: str) -> None:
    """Refuse a --plot that is a file, before any work is done (``noun``: what goes in it)."""
    if plot is not None and plot.exists() and not plot.is_dir():
        raise InputError(
            f"--plot {plot}: this is a file; the {noun} go into a folder",
            f"Pass a folder (created if missing), e.g. --plot {noun}/.",
        )


def make_plot_folder(plot: Path, noun: str) -> None:
    """Create the --plot folder, or the one error saying why it cannot be."""
    try:
        plot.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"--plot {plot}: cannot create the folder ({exc.strerror})",
            f"Pass a folder you can write to, e.g. --plot {noun}/.",
        ) from exc


def split_examples(text: str) -> tuple[str, list[tuple[str, str]]]:
    """A docstring's prose and its examples, as (note, command line) pairs.

    The examples are everything from the first line starting with ``Example``: lines
    ``Example: CMD``, ``Sweep: CMD`` (a note, then the command) or ``Example (note):``
    followed by the indented command.
    """
    lines = inspect.cleandoc(text).splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Example")), len(lines))
    examples: list[tuple[str, str]] = []
    note = ""
    for line in lines[start:]:
        if not line.strip().startswith("tracekit"):
            head, _, line = line.partition(":")
            note = head.removeprefix("Examples").removeprefix("Example").strip(" ()") or note
        if line.strip():
            examples.append((note, line.strip()))
            note = ""
    return "\n".join(lines[:start]).rstrip(), examples


class _ExamplesLast:
    """Moves a command's examples from its help text to the end of its help."""

    examples: list[tuple[str, str]]

    def _split(self) -> None:
        self.help, self.examples = split_examples(self.help or "")  # type: ignore[attr-defined]

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        """Each example on a line of its own, ``Example (note): CMD``, never re-wrapped."""
        for position, (note, command) in enumerate(self.examples):
            if position == 0:
                formatter.write_paragraph()
            label = f"Example ({note})" if note else "Example"
            formatter.write(f"{'':>{formatter.current_indent}}{label}: {command}\n")


class ExamplesLast(_ExamplesLast, TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._split()

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """Usage as Click writes it: a required argument as ``PATH...``, not ``{PATH}...``."""
        return [re.sub(r"^\{(.*)\}", r"\1", piece) for piece in super().collect_usage_pieces(ctx)]


class ExamplesLastGroup(_ExamplesLast, TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._split()


class Typer(typer.Typer):
    """typer.Typer whose commands and groups put their examples last, help unwrapped."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            cls=ExamplesLastGroup,
            rich_markup_mode=None,
            pretty_exceptions_enable=False,
            add_completion=False,
            **kwargs,
        )

    def command(self, *args: Any, cls: type[TyperCommand] | None = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or ExamplesLast, **kwargs)


app = Typer(
    name="tracekit",
    help="""Communication analysis of multi-GPU LLM inference traces.

    Example: tracekit report --db traces.duckdb""",
    no_args_is_help=True,
)

console = Console()
err_console = Console(stderr=True)


class State:
    debug: bool = False


def _print_version(value: bool) -> None:
    if value:
        console.print(f"tracekit {__version__}", highlight=False)
        raise typer.Exit


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print tracekit's version and exit.",
    ),
) -> None:
    State.debug = debug
