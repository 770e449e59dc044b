"""Collective instances: one collective matched across ranks; arrival skew, wait vs transfer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tracekit import analysis
from tracekit.tui import format as fmt
from tracekit.tui.base import BaseScreen, count_note, fill_table
from tracekit.tui.messages import QueryDone, QueryFailed

BAR_WIDTH = 24


def load_listing(
    con: Any, *, run: str, op_ref: tuple[int, int] | None
) -> tuple[tuple[str | None, str, int] | None, analysis.Result]:
    """The instances, with the one ``op_ref`` (trace_id, event_id) takes part in on top."""
    first = None
    if op_ref is not None:
        first = analysis.instance_of(con, run=run, trace_id=op_ref[0], event_id=op_ref[1])
    return first, analysis.instances_by_skew(con, run=run, first=first)


LEGEND = Text.assemble("per rank: ", ("█ wait (early arrival) ", "red"), ("█ transfer", "cyan"))


class InstancesScreen(BaseScreen):
    MODE = "instances"
    AUTO_FOCUS = "#instances"
    BINDINGS = [
        Binding("tab", "app.focus_next", "Switch table", id="inst.switch"),
        Binding("t", "timeline", "Timeline", id="inst.timeline"),
        Binding("r", "reload", "Reload", id="inst.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.shown_run: str | None = None
        self.listing: analysis.Result | None = None
        self.members: analysis.Result | None = None

    def compose_body(self) -> Iterable[Any]:
        with Vertical(id="instances-body"):
            yield DataTable(id="instances", cursor_type="row", zebra_stripes=True)
            yield Static("", id="status", classes="status", markup=False)
            yield DataTable(id="participants", cursor_type="row")
            yield Static(LEGEND, id="legend", classes="status")

    def on_screen_resume(self) -> None:
        self.set_context("run ", (self.tk.run_id or "—", "b"), " · worst arrival skew first")
        wanted = self.tk.instance_focus is not None
        if self.tk.run_id and (self.tk.run_id != self.shown_run or wanted):
            self.action_reload()

    def action_reload(self) -> None:
        if not self.tk.run_id:
            return
        op_ref, self.tk.instance_focus = self.tk.instance_focus, None
        self.shown_run = self.tk.run_id
        self.query_one("#instances", DataTable).loading = True
        self.load("instances", load_listing, run=self.tk.run_id, op_ref=op_ref)

    def on_query_done(self, message: QueryDone) -> None:
        if message.key == "participants":
            self._show_participants(message.result)
            return
        first, result = message.result
        table = self.query_one("#instances", DataTable)
        status = self.query_one("#status", Static)
        self.listing = result
        fill_table(table, result)
        note = count_note(result, message.seconds)
        if first is not None:
            note += f" · top row: the chosen op's instance ({first[1]} #{first[2]})"
        status.update(note)
        table.move_cursor(row=0)

    def on_query_failed(self, message: QueryFailed) -> None:
        for table in self.query(DataTable):
            table.loading = False
        self.show_error("#status", message.error)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "instances" or not self.listing or not self.listing.rows:
            return
        row = self.listing.dicts()[event.cursor_row]
        self.query_one("#participants", DataTable).loading = True
        self.load_detail(
            "participants",
            analysis.participants,
            run=self.tk.run_id,
            pg=row["pg"],
            op=row["op"],
            instance=row["instance"],
        )

    def _show_participants(self, result: analysis.Result) -> None:
        self.members = result
        table = self.query_one("#participants", DataTable)
        top = max((float(r["dur_ns"] or 0) for r in result.dicts()), default=0.0) or 1.0

        def bars(row: dict[str, Any]) -> Sequence[Text]:
            wait = float(row["wait_ns"] or 0) / top
            transfer = float(row["transfer_ns"] or 0) / top
            return [fmt.stacked_bar([(wait, "red"), (transfer, "cyan")], BAR_WIDTH)]

        fill_table(table, result, extra=bars, extra_columns=("wait | transfer",))

    def action_timeline(self) -> None:
        table = self.query_one("#participants", DataTable)
        if self.members and self.members.rows and table.cursor_row < len(self.members.rows):
            row = self.members.dicts()[table.cursor_row]
            pad = max(int(row["dur_ns"] or 0), 1000) * 4
            self.tk.show_timeline(row["rank"], row["ts_ns"] - pad, row["ts_ns"] + pad)
