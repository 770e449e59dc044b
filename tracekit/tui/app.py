"""`tracekit tui`: the Textual app over one tracekit database, opened read-only."""

from __future__ import annotations

from pathlib import Path

import duckdb
from textual.app import App
from textual.binding import Binding

from tracekit.analysis import browse
from tracekit.tui.base import SCREENS
from tracekit.tui.screens.collectives import CollectivesScreen
from tracekit.tui.screens.console import ConsoleScreen
from tracekit.tui.screens.help import HelpScreen
from tracekit.tui.screens.instances import InstancesScreen
from tracekit.tui.screens.overlap import OverlapScreen
from tracekit.tui.screens.ranks import RanksScreen
from tracekit.tui.screens.runs import RunsScreen
from tracekit.tui.screens.timeline import TimelineScreen

APP_BINDINGS: list[Binding] = [
    *(
        Binding(key, f"switch_mode('{mode}')", label, show=False, id=f"go.{mode}")
        for key, mode, label in SCREENS
    ),
    Binding("question_mark,f1", "help", "Help", key_display="?", id="app.help"),
    Binding("q", "quit", "Quit", id="app.quit"),
]


class TracekitApp(App[None]):
    """Screens are modes (keys 1–7); the chosen run, rank and jumps live here."""

    TITLE = "tracekit"
    CSS_PATH = "tracekit.tcss"
    BINDINGS = APP_BINDINGS
    MODES = {
        "runs": RunsScreen,
        "ranks": RanksScreen,
        "collectives": CollectivesScreen,
        "overlap": OverlapScreen,
        "instances": InstancesScreen,
        "timeline": TimelineScreen,
        "sql": ConsoleScreen,
    }
    DEFAULT_MODE = "runs"

    def __init__(
        self, con: duckdb.DuckDBPyConnection, db_path: Path, *, show_timings: bool = True
    ) -> None:
        super().__init__()
        self.con = con
        self.show_timings = show_timings
        self.db_path = db_path
        self.db_name = db_path.name
        self.run_id: str | None = None
        self.rank: int | None = None
        self.collective_filter: str | None = None
        self.instance_focus: tuple[int, int] | None = None
        self.timeline_request: tuple[int, int | None, int | None] | None = None

    @classmethod
    def open(cls, db_path: Path, *, show_timings: bool = True) -> TracekitApp:
        """The app over ``db_path``; a :class:`TracekitError` if it cannot be used."""
        return cls(browse.open_database(db_path), db_path, show_timings=show_timings)

    def choose_run(self, run_id: str) -> None:
        if run_id != self.run_id:
            self.run_id, self.rank = run_id, None

    def show_timeline(
        self, rank: int, start_ns: int | None = None, end_ns: int | None = None
    ) -> None:
        self.rank = rank
        self.timeline_request = (rank, start_ns, end_ns)
        self.switch_mode("timeline")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(APP_BINDINGS, self.screen))

    def on_unmount(self) -> None:
        self.con.close()
