"""Runs: every run in the database; Enter picks one for the other screens."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable, Static

from tracekit import analysis
from tracekit.tui.base import BaseScreen, count_note, fill_table
from tracekit.tui.messages import QueryDone, QueryFailed


class RunsScreen(BaseScreen):
    MODE = "runs"
    BINDINGS = [
        Binding(
            "enter",
            "pick",
            "Use run",
            priority=True,
            id="runs.pick",
            tooltip="Show this run's ranks",
        ),
        Binding("r", "reload", "Reload", id="runs.reload"),
    ]

    def compose_body(self) -> Iterable[Any]:
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="status", classes="status", markup=False)

    def on_mount(self) -> None:
        self.action_reload()

    def on_screen_resume(self) -> None:
        self.set_context((self.tk.db_name, "b"), f" · run: {self.tk.run_id or '—'}")

    def action_reload(self) -> None:
        self.query_one(DataTable).loading = True
        self.load("runs", analysis.runs)

    def on_query_done(self, message: QueryDone) -> None:
        table = self.query_one(DataTable)
        fill_table(table, message.result)
        self.query_one("#status", Static).update(count_note(message.result, message.seconds))
        runs = [row[0] for row in message.result.rows]
        if self.tk.run_id in runs:
            table.move_cursor(row=runs.index(self.tk.run_id))
        elif runs and self.tk.run_id is None:
            self.tk.run_id = runs[0]
        self.on_screen_resume()

    def on_query_failed(self, message: QueryFailed) -> None:
        self.query_one(DataTable).loading = False
        self.show_error("#status", message.error)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_pick()

    def action_pick(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            self.tk.choose_run(str(table.get_row_at(table.cursor_row)[0]))
            self.app.switch_mode("ranks")
