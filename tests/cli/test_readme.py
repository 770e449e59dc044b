"""The README's captures have the shape of what the commands print today.

Its first command's capture (import summary and report) is checked line by line against
`tracekit import` and `tracekit report` on the committed tp2pp2 sample imported as
`runs/demo`: every title and header as printed, every table row with the same label and
the same kind of value in each cell (the values differ from run to run). The SQL examples
run, and the study's comparison shows columns `tracekit compare` prints, in its order.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.robustness.conftest import tk

README = (REPO / "README.md").read_text()
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
BOX = "│┃"
# printed by `tracekit collect`, which the test does not run (tests/collect covers it)
COLLECT_LINES = ("complete: ", "TTFT ", "next: ")


def block_after(marker: str, fence: str = "```text") -> list[str]:
    """The lines of the first fenced block after ``marker`` in the README."""
    start = README.index(fence, README.index(marker)) + len(fence) + 1
    return README[start : README.index("```", start)].splitlines()


def shape(line: str) -> tuple:
    """A line with its values masked: numbers become '#'; a table row is its cells, a
    border the number of its columns."""
    line = line.rstrip()
    if line and line[0] in "┏┡└┌┐┘╇┳┴┬":
        return ("border", sum(line.count(c) for c in "┳╇┴┬") + 1)
    if line and line[0] in BOX:
        cells = re.split(f"[{BOX}]", line)[1:-1]
        return ("row", tuple(NUMBER.sub("#", c.strip()) for c in cells))
    return ("text", NUMBER.sub("#", line))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The README's `runs/demo` imported into `demo.duckdb` (from the committed tp2pp2
    sample), and what the import printed."""
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(REPO / "sample_traces" / "tp2pp2", root / "runs" / "demo")
    imported = tk("import", "runs/demo", "--db", "demo.duckdb", cwd=root)
    assert imported.returncode == 0, imported.stderr
    return root, imported.stdout


def test_first_command_capture_has_the_commands_shape(demo: tuple[Path, str]) -> None:
    root, imported = demo
    report = tk("report", "--db", "demo.duckdb", cwd=root)
    assert report.returncode == 0, report.stderr
    live = {shape(line) for line in (imported + report.stdout).splitlines()}
    shown = [
        line
        for line in block_after("What the first command prints")
        if line != "..." and not line.startswith(COLLECT_LINES)
    ]
    assert len(shown) > 20
    assert [line for line in shown if shape(line) not in live] == []


def test_sql_examples_run(demo: tuple[Path, str]) -> None:
    examples = [
        line.removeprefix("tracekit ")
        for line in block_after("### SQL examples", "```bash")
        if line.startswith("tracekit sql ")
    ]
    assert len(examples) == 4
    for example in examples:
        args = re.findall(r'"[^"]*"|\S+', example)
        proc = tk(*(a.strip('"') for a in args), cwd=demo[0])
        assert proc.returncode == 0, (example, proc.stderr)
        assert proc.stdout.strip(), example


def test_study_capture_shows_columns_compare_prints(demo: tuple[Path, str]) -> None:
    proc = tk("compare", "--db", "demo.duckdb", "--format", "markdown", cwd=demo[0])
    assert proc.returncode == 0, proc.stderr
    live = [c.strip() for c in first_table_row(proc.stdout.splitlines())]
    shown = [c.strip() for c in first_table_row(block_after("tracekit study --gpus 4"))]
    assert len(shown) > 10
    assert [c for c in live if c in shown] == shown


def first_table_row(lines: list[str]) -> list[str]:
    return next(line for line in lines if line.startswith("|")).strip("|").split("|")
