"""Ranks: communication, compute, overlap and idle per rank of the run, with bars."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tracekit import analysis
from tracekit.tui import format as fmt
from tracekit.tui.base import BaseScreen, count_note, fill_table
from tracekit.tui.messages import QueryDone, QueryFailed

BAR_WIDTH = 12
LABELS = {
    "comm_ns": "comm",
    "compute_ns": "compute",
    "exposed_comm_ns": "exposed",
    "overlap_pct": "overlap",
    "idle_ns": "idle",
    "memory_ns": "memory",
}
LEGEND = Text.assemble(
    "bar = span: ",
    ("█ exposed comm ", "red"),
    ("█ overlapped ", "yellow"),
    ("█ compute only ", "green"),
    ("· idle", "dim"),
)


def span_bar(row: dict[str, Any]) -> Sequence[Text]:
    span = float(row["span_ns"] or 0) or 1.0
    compute_only = (row["compute_ns"] or 0) - (row["overlap_ns"] or 0)
    return [
        fmt.stacked_bar(
            [
                (row["exposed_comm_ns"] / span, "red"),
                (row["overlap_ns"] / span, "yellow"),
                (compute_only / span, "green"),
            ],
            BAR_WIDTH,
        )
    ]


class RanksScreen(BaseScreen):
    MODE = "ranks"
    BINDINGS = [
        Binding("enter", "collectives", "Collectives", priority=True, id="ranks.collectives"),
        Binding("t", "timeline", "Timeline", id="ranks.timeline", tooltip="This rank's timeline"),
        Binding("r", "reload", "Reload", id="ranks.reload"),
    ]
    COLUMNS = (
        "rank",
        "lane",
        "comm_ns",
        "compute_ns",
        "exposed_comm_ns",
        "overlap_pct",
        "memory_ns",
        "idle_ns",
    )

    def __init__(self) -> None:
        super().__init__()
        self.shown_run: str | None = None

    def compose_body(self) -> Iterable[Any]:
        yield DataTable(id="ranks", cursor_type="row", zebra_stripes=True)
        yield Static(LEGEND, id="legend", classes="status")
        yield Static("", id="status", classes="status", markup=False)

    def on_screen_resume(self) -> None:
        self.set_context("run ", (self.tk.run_id or "—", "b"), " · per rank and lane")
        if self.tk.run_id and self.tk.run_id != self.shown_run:
            self.action_reload()

    def action_reload(self) -> None:
        if not self.tk.run_id:
            self.query_one("#status", Static).update("Pick a run on the Runs screen (1).")
            return
        self.shown_run = self.tk.run_id
        self.query_one(DataTable).loading = True
        self.load("ranks", analysis.ranks, run=self.tk.run_id)

    def on_query_done(self, message: QueryDone) -> None:
        table = self.query_one(DataTable)
        fill_table(
            table,
            message.result,
            columns=self.COLUMNS,
            extra=span_bar,
            extra_columns=("span",),
            labels=LABELS,
        )
        self.query_one("#status", Static).update(count_note(message.result, message.seconds))
        ranks = [row[0] for row in message.result.rows]
        if self.tk.rank in ranks:
            table.move_cursor(row=ranks.index(self.tk.rank))

    def on_query_failed(self, message: QueryFailed) -> None:
        self.query_one(DataTable).loading = False
        self.show_error("#status", message.error)

    def _cursor_rank(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return int(str(table.get_row_at(table.cursor_row)[0]).replace(",", ""))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_collectives()

    def action_collectives(self) -> None:
        rank = self._cursor_rank()
        if rank is not None:
            self.tk.rank = rank
            self.tk.collective_filter = f"rank={rank}"
            self.app.switch_mode("collectives")

    def action_timeline(self) -> None:
        rank = self._cursor_rank()
        if rank is not None:
            self.tk.show_timeline(rank)
