"""A few screenshots at a fixed size (pytest-textual-snapshot; update with --snapshot-update).

The runs snapshot shows the sample runs' layout and event counts: regenerate it when
sample_traces/ changes. The other two do not depend on the samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from tui_helpers import settle

from tracekit.tui.app import TracekitApp


def app_for(db: Path) -> TracekitApp:
    return TracekitApp.open(db, show_timings=False)


def test_runs_screen(sample_db: Path, snap_compare: Any) -> None:
    assert snap_compare(app_for(sample_db), terminal_size=(100, 30), run_before=settle)


def test_help_screen(sample_db: Path, snap_compare: Any) -> None:
    async def open_help(pilot: Pilot[Any]) -> None:
        await pilot.press("7")  # over the console: the same whatever the samples hold
        await settle(pilot)
        await pilot.press("escape", "question_mark")
        await pilot.pause()

    assert snap_compare(app_for(sample_db), terminal_size=(80, 24), run_before=open_help)


def test_sql_error_inline(sample_db: Path, snap_compare: Any) -> None:
    async def bad_query(pilot: Pilot[Any]) -> None:
        await pilot.press("7")
        await settle(pilot)
        pilot.app.screen.query_one("#editor").load_text("SELECT count(*) FROM runz")
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("escape")  # focus leaves the editor: no blinking cursor in the shot
        await pilot.pause()

    assert snap_compare(app_for(sample_db), terminal_size=(80, 24), run_before=bad_query)
