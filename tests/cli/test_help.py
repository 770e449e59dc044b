"""Help and conventions: every command's help (sub-commands included, new ones covered
automatically) reads well and ends with an example Click accepts as that command's
command line; --version; validate picks the only run; import's stdout starts with its
summary; the report explains its TPOT against the manifest's."""

from __future__ import annotations

import itertools
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tests.robustness.conftest import cli
from tracekit import __version__
from tracekit.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
ROOT = typer.main.get_command(app)


def _walk(command: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    found = [path]
    if hasattr(command, "commands"):  # a group (Typer vendors its own Click)
        for name, sub in command.commands.items():
            found += _walk(sub, (*path, name))
    return found


COMMANDS = _walk(ROOT, ())


def _command(path: tuple[str, ...]) -> Any:
    command = ROOT
    for name in path:
        command = command.commands[name]
    return command


def _parse(command: Any, args: list[str]) -> None:
    """Parse ``args`` as Click would run them (options, types, required), running nothing."""
    ctx = command.make_context("tracekit", args)
    if hasattr(command, "commands"):
        rest = [*ctx._protected_args, *ctx.args]
        _name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None
        _parse(sub, rest)


def test_every_command_is_covered() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {"", "import", "report", "sql", "validate", "tui", "rules", "rules add"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "tracekit")
def test_help_ends_with_a_runnable_example(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.rstrip().splitlines()
    label, _, last = lines[-1].partition(": ")
    assert label.startswith("Example"), result.stdout
    assert last.startswith(" ".join(("tracekit", *path))), result.stdout
    options = next(i for i, line in enumerate(lines) if line in ("Options:", "Commands:"))
    assert lines.index(next(x for x in lines if x.startswith("Example"))) > options
    argv = shlex.split(last)
    _parse(ROOT, argv[1:])
    # flags without a type after them, usage in Click's words, prose re-wrapped
    assert "<bool>" not in result.stdout
    assert "{" not in lines[0], lines[0]
    # prose is re-filled to the width: no line of a paragraph ends where its next word fits
    prose = lines[1 : lines.index(next(x for x in lines if x.endswith(":") and x[0] != " "))]
    for line, following in itertools.pairwise(prose):
        if line.strip() and following.strip():
            assert len(line) + 1 + len(following.split()[0]) > 78, f"ragged: {line!r}"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"tracekit {__version__}\n"


def test_validate_picks_the_only_run(gloo_db: Path) -> None:
    alone = runner.invoke(app, ["validate", "--db", str(gloo_db), "--format", "json"])
    named = ["validate", "--db", str(gloo_db), "--run", "tp2pp2", "--format", "json"]
    assert alone.exit_code == 0, alone.output
    assert json.loads(alone.stdout) == json.loads(runner.invoke(app, named).stdout)


def test_import_prints_no_blank_line(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    done = cli("import", REPO / "sample_traces" / "tp2", "--db", db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported into "), done.stdout[:80]
    failed = cli("import", tmp_path / "missing", "--db", db)
    assert failed.returncode == 2 and failed.stdout == ""


def test_report_explains_its_tpot_against_the_manifest(gloo_db: Path) -> None:
    result = runner.invoke(app, ["report", "--db", str(gloo_db), "--section", "latency"])
    assert result.exit_code == 0, result.output
    rows = [line.strip("│").split("│") for line in result.stdout.splitlines() if line[:1] == "│"]
    values = {name.strip(): float(value) for name, value in rows}
    assert values["tpot_ms"] != values["manifest_tpot_ms"]
    assert "note: tpot_ms is measured from the traces' step ranges" in result.stdout
    assert "manifest_tpot_ms is the collector's clock on rank 0" in " ".join(result.stdout.split())
