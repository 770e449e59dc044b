"""Overlap by layer, stage or phase: bar charts of exposed and overlapped communication."""

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

BAR_WIDTH = 24
DIMENSIONS = ("layer", "stage", "phase")
LEGEND = Text.assemble(
    "comm bar (scaled to the largest): ", ("█ exposed ", "red"), ("█ overlapped", "yellow")
)


class OverlapScreen(BaseScreen):
    MODE = "overlap"
    BINDINGS = [
        Binding("d", "dimension", "Layer/stage/phase", id="overlap.dimension"),
        Binding("r", "reload", "Reload", id="overlap.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.dimension = "layer"
        self.shown: tuple[str | None, str] | None = None

    def compose_body(self) -> Iterable[Any]:
        yield DataTable(id="overlap", cursor_type="row", zebra_stripes=True)
        yield Static(LEGEND, id="legend", classes="status")
        yield Static("", id="status", classes="status", markup=False)

    def on_screen_resume(self) -> None:
        if self.shown != (self.tk.run_id, self.dimension):
            self.action_reload()

    def action_dimension(self) -> None:
        dims = DIMENSIONS
        self.dimension = dims[(dims.index(self.dimension) + 1) % len(dims)]
        self.action_reload()

    def action_reload(self) -> None:
        self.set_context(
            "run ",
            (self.tk.run_id or "—", "b"),
            " · overlap by ",
            (self.dimension, "b"),
            " (d: next)",
        )
        if not self.tk.run_id:
            return
        self.shown = (self.tk.run_id, self.dimension)
        self.query_one(DataTable).loading = True
        self.load("overlap", analysis.overlap_totals, run=self.tk.run_id, by=self.dimension)

    def on_query_done(self, message: QueryDone) -> None:
        result: analysis.Result = message.result
        table = self.query_one(DataTable)
        status = self.query_one("#status", Static)
        top = max((float(r["comm_ns"] or 0) for r in result.dicts()), default=0.0) or 1.0

        def bars(row: dict[str, Any]) -> Sequence[Text]:
            exposed = float(row["exposed_comm_ns"] or 0) / top
            overlapped = float(row["overlap_ns"] or 0) / top
            return [fmt.stacked_bar([(exposed, "red"), (overlapped, "yellow")], BAR_WIDTH)]

        columns = (self.dimension, "comm_ns", "exposed_comm_ns", "overlap_pct", "compute_ns")
        fill_table(table, result, columns=columns, extra=bars, extra_columns=("comm bar",))
        status.update(count_note(result, message.seconds))

    def on_query_failed(self, message: QueryFailed) -> None:
        self.query_one(DataTable).loading = False
        self.show_error("#status", message.error)
