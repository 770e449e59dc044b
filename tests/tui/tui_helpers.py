"""Helpers shared by the TUI tests: start the app, wait for workers, read what is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable

from tracekit.tui.app import TracekitApp


def make_app(db: Path) -> TracekitApp:
    return TracekitApp.open(db)


async def settle(pilot: Pilot[Any]) -> None:
    """Let every query worker finish and its result reach the screen."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def goto(pilot: Pilot[Any], key: str) -> None:
    """Once the current screen has settled, press ``key`` (a screen's number) and settle."""
    await settle(pilot)
    await pilot.press(key)
    await settle(pilot)


def table_cells(app: TracekitApp, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
