"""Tables at 80 columns and piped: every value whole, read back and compared with the JSON.

An 80-column terminal is a real pseudo-terminal (the CLI sees a TTY and COLUMNS=80): it
hides middle columns and says which; a pipe gets every column at the width it needs.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tracekit.cli.model_cmd import HEADERS, _unit
from tracekit.render import cell, fit_columns
from tracekit.study.report import MAIN

REPO = Path(__file__).resolve().parents[2]
TRACEKIT = [sys.executable, "-c", "from tracekit.cli import main; main()"]


@pytest.fixture
def db(gloo_db: Path) -> Path:
    """sample_traces/tp2pp2 imported as run tp2pp2 (the one run)."""
    return gloo_db


def run(*args: str | Path, terminal: bool) -> str:
    """stdout of the CLI, on an 80-column pseudo-terminal or into a pipe (COLUMNS=80 both)."""
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TERM": "xterm"}
    argv = [*TRACEKIT, *map(str, args)]
    if not terminal:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
        return proc.stdout
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait() == 0, proc.stderr.read() if proc.stderr else ""
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # styles (bold headers) are not text


def tables(text: str) -> list[list[dict[str, str]]]:
    """Each box table in ``text`` as rows of header -> cell (a row's cells stripped)."""
    found: list[list[dict[str, str]]] = []
    header: list[str] = []
    for line in text.splitlines():
        if line.startswith("┃"):
            header = [h.strip() for h in line.strip("┃").split("┃")]
            found.append([])
        elif line.startswith("│") and header:
            cells = [c.strip() for c in line.strip("│").split("│")]
            assert len(cells) == len(header), line
            found[-1].append(dict(zip(header, cells, strict=True)))
    return found


def number(text: str) -> float:
    return float(text.replace(",", ""))


def same(shown: str, value: object, *, ms: bool = False) -> bool:
    """A cell read back equals the JSON value (``*_ns`` values shown in ms, to the µs)."""
    if value is None:
        return shown == "NULL"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        want = value / 1e6 if ms else value
        return abs(number(shown) - want) <= 5e-4 + 1e-4 * abs(want)
    return shown == str(value)


def check(table: list[dict[str, str]], rows: list[dict], *, terminal: bool) -> None:
    assert len(table) == len(rows)
    columns = [c for c in table[0] if c != "…"] if table else []
    if not terminal:
        assert "…" not in (table[0] if table else {})
    for shown, row in zip(table, rows, strict=True):
        for name in columns:
            key = name.removesuffix("_ms") + "_ns" if name.endswith("_ms") else name
            key = key if key in row else name
            assert same(shown[name], row[key], ms=key != name), (name, shown[name], row[key])


@pytest.mark.parametrize("terminal", [True, False], ids=["tty80", "piped"])
def test_report_values_whole(db: Path, terminal: bool) -> None:
    text = run("report", "--db", db, terminal=terminal)
    doc = json.loads(run("report", "--db", db, "--format", "json", terminal=False))
    sections = doc["sections"]
    found = tables(text)
    assert len(found) == len(sections)
    for rows, table in zip(sections.values(), found, strict=True):
        if len(rows) == 1 and len(rows[0]) > 8:  # one wide row: metric / value pairs
            table = [{r["metric"]: r["value"] for r in table}]
        check(table, rows, terminal=terminal)
    boxes = [line for line in text.splitlines() if line[:1] in "┃│┏┡└"]
    assert max(map(len, boxes)) <= 80 if terminal else max(map(len, boxes)) > 80
    assert ("columns hidden to fit 80 columns" in text) == terminal


@pytest.mark.parametrize("terminal", [True, False], ids=["tty80", "piped"])
def test_sql_values_whole(db: Path, terminal: bool) -> None:
    query = "SELECT * FROM overlap_by_rank ORDER BY rank, lane"
    text = run("sql", "--db", db, query, terminal=terminal)
    rows = json.loads(run("sql", "--db", db, query, "--format", "json", terminal=False))
    [table] = tables(text)
    assert len(table[0]) < 14 if terminal else len(table[0]) == len(rows[0])
    for shown, row in zip(table, rows, strict=True):
        for name in (c for c in shown if c != "…"):
            assert same(shown[name], row[name]), (name, shown[name], row[name])


@pytest.mark.parametrize("terminal", [True, False], ids=["tty80", "piped"])
def test_validate_values_whole(db: Path, terminal: bool) -> None:
    text = run("validate", "--db", db, "--run", "tp2pp2", terminal=terminal)
    doc = json.loads(
        run("validate", "--db", db, "--run", "tp2pp2", "--format", "json", terminal=False)
    )
    [table] = tables(text)
    names = {HEADERS.get(c, c): c for c in doc["by_op"][0]}
    assert len(table) == len(doc["by_op"])
    for shown, row in zip(table, doc["by_op"], strict=True):
        for header in (h for h in shown if h != "…"):
            key = names[header]
            want = "" if key == "flags" and not row[key] else cell(row[key], _unit(key))
            assert shown[header] == want.strip(), (header, shown[header], want)


@pytest.mark.parametrize("terminal", [True, False], ids=["tty80", "piped"])
def test_compare_values_whole(db: Path, terminal: bool) -> None:
    text = run("compare", "--db", db, terminal=terminal)
    rows = json.loads(run("compare", "--db", db, "--format", "json", terminal=False))
    [table] = tables(text)
    assert len(table) == len(rows) == 1
    units = {c: "bytes" for c in ("bytes", "pred_bytes", "max_rank_bytes", "tp_lane_bytes")}
    units["bytes_ratio"] = "ratio"
    shown_columns = [c for c in table[0] if c != "…"]
    assert len(shown_columns) < 12 if terminal else len(shown_columns) == len(MAIN) == 20
    for name in shown_columns:
        if name.endswith("_ms"):
            assert same(table[0][name], rows[0][name.removesuffix("_ms") + "_ns"], ms=True)
        else:
            assert table[0][name] == cell(rows[0][name], units.get(name)), name
    boxes = [line for line in text.splitlines() if line[:1] in "┃│┏┡└"]
    assert max(map(len, boxes)) <= 80 if terminal else max(map(len, boxes)) > 80
    assert ("columns hidden to fit 80 columns" in text) == terminal


def test_fit_columns_keeps_ends_and_fills_from_the_left() -> None:
    assert fit_columns([4, 4, 4], 80) is None
    # 10 columns of 10 in 80 cells: four from the left, '…', the last (70 cells)
    assert fit_columns([10] * 10, 80) == [0, 1, 2, 3, 9]
    assert fit_columns([100, 5], 80) == [0, 1]  # the first always stays, however wide
