"""SQL console: a highlighted editor, results, inline errors and a history of queries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable, Static, TextArea

from tracekit import analysis
from tracekit.tui.base import BaseScreen, count_note, fill_table
from tracekit.tui.messages import QueryDone, QueryFailed

LIMIT = 1000
STARTER = (
    "SELECT run_id, rank, lane, comm_ns, exposed_comm_ns, overlap_pct\n"
    "FROM overlap_by_rank\n"
    "ORDER BY exposed_comm_ns DESC\n"
)

KEYS = (
    "In the editor every key types (1-7, ? and q too); Esc goes to the results, where "
    "1-7, ? and q work; Shift+Tab comes back to the editor."
)


class ConsoleScreen(BaseScreen):
    MODE = "sql"
    AUTO_FOCUS = "#editor"
    BINDINGS = [
        Binding(
            "ctrl+r,f5",
            "run",
            "Run",
            priority=True,
            id="sql.run",
            key_display="^r",
            tooltip="Run the editor's SQL (F5 too); 1,000 rows shown",
        ),
        Binding("ctrl+up", "history(-1)", "Older", priority=True, id="sql.older"),
        Binding("ctrl+down", "history(1)", "Newer", priority=True, id="sql.newer"),
        Binding(
            "ctrl+x",
            "cancel",
            "Cancel",
            priority=True,
            show=False,
            id="sql.cancel",
            tooltip="Interrupt the running query",
        ),
        Binding("escape", "results", "Results", id="sql.results"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.history: list[str] = []
        self.position = 0

    def compose_body(self) -> Iterable[Any]:
        yield TextArea(
            STARTER, language="sql", id="editor", show_line_numbers=True, tab_behavior="focus"
        )
        yield Static("", id="error", classes="status", markup=False)
        yield DataTable(id="results", zebra_stripes=True)
        yield Static(KEYS, id="status", classes="status", markup=False)

    def on_screen_resume(self) -> None:
        self.set_context(
            (self.tk.db_name, "b"),
            " (read-only) · ^r run · ^x cancel · ^↑↓ history · Esc results",
        )

    def action_run(self) -> None:
        text = self.query_one(TextArea).text
        if not text.strip():
            return
        if not self.history or self.history[-1] != text:
            self.history.append(text)
        self.position = len(self.history)
        self.query_one("#error", Static).update("running…")
        self.query_one(DataTable).loading = True
        self.load("sql", analysis.run_sql, text=text, limit=LIMIT)

    def on_query_done(self, message: QueryDone) -> None:
        self.query_one("#error", Static).update("")
        fill_table(self.query_one(DataTable), message.result)
        self.query_one("#status", Static).update(count_note(message.result, message.seconds))

    def on_query_failed(self, message: QueryFailed) -> None:
        self.query_one(DataTable).loading = False
        # the context line names the database already
        error = message.error
        for path in {str(self.tk.db_path), str(self.tk.db_path.resolve())}:
            error = error.removeprefix(f"{path}: ")
        self.show_error("#error", error)
        self.query_one("#status", Static).update("")

    def action_cancel(self) -> None:
        if self.interrupt("sql"):
            self.query_one("#error", Static).update("cancelling…")

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self.position = min(max(self.position + step, 0), len(self.history))
        text = self.history[self.position] if self.position < len(self.history) else ""
        self.query_one(TextArea).load_text(text)

    def action_results(self) -> None:
        self.query_one(DataTable).focus()
