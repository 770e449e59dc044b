"""The Runs screen (issue 15 item 5): the comparison columns of `tracekit compare` beside
each run, marks (space) and the comparison of the marked runs (c), data shown literally."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from rich.text import Text
from textual.widgets import DataTable

from tests.tui.tui_helpers import goto, make_app, settle, table_cells
from tracekit.tui import format as fmt
from tracekit.tui.capture import screen_text
from tracekit.tui.screens.runs import COMPARISON, MARK

MARKUP = "[/x][bold]b[/bold]:x:"


def headers(app) -> list[str]:
    table = app.screen.query_one("#runs", DataTable)
    return [str(c.label) for c in table.ordered_columns]


def measured(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, int]]:
    """Per run, summed here from comm_op_phases: calls, bytes and the busiest rank's bytes
    inside the steps (every sample run has step ranges)."""
    rows = con.execute(
        "SELECT run_id, rank, count(*), sum(msg_bytes) FROM comm_op_phases "
        "WHERE phase <> 'outside' GROUP BY ALL"
    ).fetchall()
    out: dict[str, tuple[int, int, int]] = {}
    for run, _, calls, nbytes in rows:
        c, b, m = out.get(run, (0, 0, 0))
        out[run] = (c + calls, b + int(nbytes), max(m, int(nbytes)))
    return out


async def test_runs_show_the_comparison_columns(sample_db: Path, sample_con) -> None:
    expected = measured(sample_con)
    app = make_app(sample_db)
    async with app.run_test(size=(250, 30)) as pilot:
        await settle(pilot)
        names = headers(app)
        assert names[:2] == ["run_id", MARK]
        assert names[-len(COMPARISON) :] == [fmt.header(c) for c in COMPARISON]
        assert "comparison:" not in screen_text(app)  # computed, no error
        rows = {r[0]: dict(zip(names, r, strict=True)) for r in table_cells(app, "#runs")}
        assert set(rows) == set(expected)
        for run, (calls, nbytes, busiest) in expected.items():
            row = rows[run]
            assert row["calls"] == fmt.cell("calls", calls).plain
            assert row["bytes"] == fmt.cell("bytes", nbytes).plain
            assert row["max_rank"] == fmt.cell("max_rank_bytes", busiest).plain
            assert row["scope"] == "steps" and row["model"] == "tiny"
            assert row["ttft"].endswith(" ms") and row["e2e_exposed_comm"].endswith("%")


async def test_mark_runs_and_compare_them(sample_db: Path, sample_con) -> None:
    by_bytes = [r for (r,) in sample_con.execute("SELECT run_id FROM run_comparison").fetchall()]
    app = make_app(sample_db)
    async with app.run_test(size=(250, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")  # nothing marked: every run stays
        await pilot.pause()
        assert len(table_cells(app, "#runs")) == 3
        await pilot.press("space", "space")  # marks the first two; the cursor moves on
        await pilot.pause()
        rows = table_cells(app, "#runs")
        marked = {r[0] for r in rows if r[1] == MARK}
        assert marked == {rows[0][0], rows[1][0]} and rows[2][1] == ""
        assert "marked: 2" in screen_text(app)
        await pilot.press("c")
        await pilot.pause()
        assert [r[0] for r in table_cells(app, "#runs")] == [r for r in by_bytes if r in marked]
        assert "comparing 2 marked runs" in screen_text(app)
        await pilot.press("space")  # unmark the run under the cursor: it leaves the view
        await pilot.pause()
        left = [r[0] for r in table_cells(app, "#runs")]
        assert len(left) == 1 and "comparing 1 marked runs" in screen_text(app)
        await pilot.press("c")
        await pilot.pause()
        rows = table_cells(app, "#runs")
        assert len(rows) == 3 and [r[0] for r in rows if r[1] == MARK] == left
        await pilot.press("enter")  # a marked run is picked as any other
        await settle(pilot)
        assert app.current_mode == "ranks"


async def test_leaving_while_computing_and_coming_back(sample_db: Path) -> None:
    """Leaving the screen stops the comparison query; coming back computes it again."""
    app = make_app(sample_db)
    async with app.run_test(size=(250, 30)) as pilot:
        await pilot.pause()
        await pilot.press("2")  # away, most likely before the comparison is done
        await goto(pilot, "1")
        names = headers(app)
        assert names[-len(COMPARISON) :] == [fmt.header(c) for c in COMPARISON]
        assert "comparison:" not in screen_text(app)
        assert all(r[names.index("calls")] != "NULL" for r in table_cells(app, "#runs"))


async def test_comparison_cells_are_literal_text(sample_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "markup.duckdb"
    shutil.copy(sample_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute(
            "UPDATE runs SET manifest = json_merge_patch(manifest, ?)",
            [f'{{"model": {{"name": "{MARKUP}"}}}}'],
        )
    app = make_app(db)
    async with app.run_test(size=(250, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#runs", DataTable)
        model = headers(app).index("model")
        cells = [table.get_row_at(i)[model] for i in range(table.row_count)]
        assert all(isinstance(c, Text) and c.plain == MARKUP for c in cells)
        assert MARKUP in screen_text(app)


async def test_an_older_database_lists_its_runs_and_says_why_no_comparison(
    sample_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "older.duckdb"
    shutil.copy(sample_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("DROP VIEW run_comparison")
    app = make_app(db)
    async with app.run_test(size=(250, 30)) as pilot:
        await settle(pilot)
        assert len(table_cells(app, "#runs")) == 3 and "calls" not in headers(app)
        assert "comparison: view run_comparison not available" in screen_text(app)
        await pilot.press("space", "c")  # marking and comparing still work
        await pilot.pause()
        assert len(table_cells(app, "#runs")) == 1
