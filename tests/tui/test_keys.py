"""Pilot tests of issue 17's TUI items: Enter on a collective, focus after the filter, the
Timeline's details pane and zoom near the start, keys on the SQL screen, filter errors
and literal name filters."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from textual.widgets import DataTable, Input, TextArea

from tests.tui.tui_helpers import goto, make_app, settle, table_cells
from tracekit import analysis
from tracekit.errors import InputError
from tracekit.tui.capture import screen_text
from tracekit.tui.screens.timeline import HINT


async def test_enter_on_a_collective_shows_the_op_whole(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "3")
        op = app.screen.page.dicts()[1]
        await pilot.press("down", "enter")
        await settle(pilot)
        shown = str(app.screen.query_one("#op-details").render())
        assert f"name {op['name']}" in shown  # whole, where the table cuts it
        assert f"rank {op['rank']}" in shown and f"call_index {op['call_index']}" in shown


async def test_keys_work_again_after_enter_in_the_filter(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "3")
        await pilot.press("slash", *"rank=1", "enter")
        await settle(pilot)
        flt = app.screen.query_one(Input)
        assert isinstance(app.focused, DataTable)
        assert {r[0] for r in table_cells(app, "#collectives")} == {"1"}
        await pilot.press("s", "2")  # a sort key, then a screen key: neither typed
        await settle(pilot)
        assert app.current_mode == "ranks"
        assert flt.value == "rank=1"


async def test_timeline_details_forget_the_event_on_another_rank_or_window(
    sample_db: Path,
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "6")
        view = app.screen.query_one("#timeline")
        for key in ("n", "p", "r", "t"):
            busy = view.data.busy(view.data.lanes[0])
            view.cursor = max(range(view.data.buckets), key=busy.__getitem__)
            view.lane_index = 0
            await pilot.press("enter")
            await settle(pilot)
            assert HINT not in screen_text(app) and "name" in screen_text(app)
            if key == "t":  # a jump from the Collectives screen
                await pilot.press("3")
                await settle(pilot)
            await pilot.press(key)
            await settle(pilot)
            if key == "t":
                assert app.current_mode == "timeline"
                view = app.screen.query_one("#timeline")
            assert HINT in screen_text(app), key


async def test_zoom_near_the_start_never_shows_a_negative_window(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "6")
        view = app.screen.query_one("#timeline")
        span = view.data.end_ns - view.data.start_ns
        view.cursor = 0
        await pilot.press("plus")
        await settle(pilot)
        assert view.data.start_ns >= 0
        assert view.data.end_ns - view.data.start_ns < span * 0.6
        await pilot.press("h", "h", "h")  # pan left past the start
        await settle(pilot)
        assert view.data.start_ns == 0
        assert "-" not in screen_text(app).splitlines()[2].split("window")[0]


async def test_sql_keys_type_in_the_editor_and_work_in_the_results(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "7")
        editor = app.screen.query_one(TextArea)
        editor.load_text("SELECT ")
        editor.move_cursor((0, 7))
        await pilot.press("1", "question_mark", "q")
        assert editor.text == "SELECT 1?q" and app.current_mode == "sql"
        assert "Esc goes to the results" in screen_text(app)
        editor.load_text("SELECT 1")
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("escape")
        assert isinstance(app.focused, DataTable)
        await pilot.press("shift+tab")
        assert app.focused is editor
        await pilot.press("escape", "4")
        await settle(pilot)
        assert app.current_mode == "overlap"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo=bar", "filter 'foo=bar': unknown key foo"),
        ("Size>=3", "filter 'Size>=3': unknown key size"),
        ("rank", "filter 'rank': expected KEY=VALUE"),
    ],
)
def test_filter_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        analysis.OpFilter.parse(text)
    assert caught.value.message == message


def test_name_filters_are_literal(sample_con: duckdb.DuckDBPyConnection) -> None:
    run = "tp2pp2"
    every = analysis.comm_ops(sample_con, run=run, limit=10_000).dicts()
    names = {o["name"] for o in every}

    def found(text: str) -> list[dict]:
        flt = analysis.OpFilter.parse(text)
        return analysis.comm_ops(sample_con, run=run, where=flt, limit=10_000).dicts()

    assert found("name~%") == [] and found("name=_") == []
    assert len(found("name~_")) == sum("_" in o["name"] for o in every) < len(every)
    name = sorted(names)[0]
    assert {o["name"] for o in found(f"name={name}")} == {name}
    assert len(found(f"name={name}")) == sum(o["name"] == name for o in every)


async def test_unknown_key_is_shown_in_the_tui(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "3")
        await pilot.press("slash", *"foo=bar", "enter")
        await settle(pilot)
        assert "unknown key foo" in screen_text(app)
