"""Collectives: every communication op of the run, filtered, sorted and paged in SQL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from tracekit import analysis
from tracekit.errors import TracekitError
from tracekit.tui import format as fmt
from tracekit.tui.base import BaseScreen, count_note, fill_table
from tracekit.tui.messages import QueryDone, QueryFailed

PAGE = 200


class CollectivesScreen(BaseScreen):
    MODE = "collectives"
    BINDINGS = [
        Binding("slash", "edit_filter", "Filter", id="coll.filter", key_display="/"),
        Binding("s", "sort", "Sort", id="coll.sort", tooltip="Sort by the cursor's column"),
        Binding(
            "right_square_bracket",
            "page(1)",
            "Page+",
            id="coll.next",
            key_display="]",
            tooltip="Next 200 rows ([ goes back)",
        ),
        Binding(
            "left_square_bracket", "page(-1)", "Page-", show=False, id="coll.prev", key_display="["
        ),
        Binding(
            "t", "timeline", "Timeline", id="coll.timeline", tooltip="This op's rank, around the op"
        ),
        Binding(
            "i",
            "instance",
            "Instance",
            id="coll.instance",
            tooltip="The same collective on every rank",
        ),
        Binding("escape", "leave_filter", "Table", show=False, id="coll.table"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sort_column = "ts_ns"
        self.descending = False
        self.row_offset = 0
        self.flt = analysis.OpFilter()
        self.page: analysis.Result | None = None
        self.shown: tuple[Any, ...] = ()
        self.refocus = False  # Enter in the filter: focus the table once it has loaded

    def compose_body(self) -> Iterable[Any]:
        yield Input(
            placeholder="filter: op=all_reduce rank=0,1 layer=3 bytes>=1M name~ring  (Enter)",
            id="filter",
        )
        yield DataTable(id="collectives", cursor_type="cell", zebra_stripes=True)
        yield Static(
            "Enter on a row shows the op whole.", id="op-details", classes="status", markup=False
        )
        yield Static("", id="status", classes="status", markup=False)

    def on_screen_resume(self) -> None:
        if self.shown and self.shown[0] != self.tk.run_id:
            self.row_offset = 0
        wanted = self.tk.collective_filter
        if wanted is not None:
            self.tk.collective_filter = None
            self.query_one(Input).value = wanted
            self._apply_filter(wanted)
        elif self.shown != self._state():
            self.reload()

    def _state(self) -> tuple[Any, ...]:
        return (self.tk.run_id, self.flt, self.sort_column, self.descending, self.row_offset)

    def reload(self) -> None:
        run = self.tk.run_id
        direction = "↓" if self.descending else "↑"
        sort = fmt.header(self.sort_column)
        self.set_context("run ", (run or "—", "b"), f" · sorted by {sort} {direction}")
        if not run:
            return
        self.shown = self._state()
        self.query_one(DataTable).loading = True
        self.load(
            "page",
            analysis.comm_ops,
            run=run,
            where=self.flt,
            sort=self.sort_column,
            descending=self.descending,
            limit=PAGE,
            offset=self.row_offset,
        )

    def on_query_done(self, message: QueryDone) -> None:
        self.page = message.result
        table = self.query_one(DataTable)
        fill_table(table, message.result, columns=analysis.OP_COLUMNS)
        note = count_note(message.result, message.seconds, offset=self.row_offset)
        self.query_one("#status", Static).update(note + "  ([ ] pages, s sorts, / filters)")
        self._focus_table()

    def on_query_failed(self, message: QueryFailed) -> None:
        self.query_one(DataTable).loading = False
        self.show_error("#status", message.error)
        self._focus_table()

    def _apply_filter(self, text: str) -> bool:
        """Filter by ``text``; False (and the error shown) where it does not parse."""
        try:
            self.flt = analysis.OpFilter.parse(text)
        except TracekitError as exc:
            self.show_error("#status", str(exc))
            return False
        self.row_offset = 0
        self.reload()
        return True

    def _focus_table(self) -> None:
        if self.refocus:
            self.refocus = False
            self.query_one(DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Apply the filter and go back to the table (once it has loaded: a loading table
        takes no focus); a filter in error keeps the focus, to be mended."""
        self.refocus = self._apply_filter(event.value)

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        """Enter on a row: the op's every column, the name whole (the table cuts it)."""
        op = self._cursor_op()
        if op is None:
            return
        parts: list[str | tuple[str, str]] = []
        for name in analysis.OP_COLUMNS:
            parts += [(fmt.header(name), "b"), " ", fmt.cell(name, op[name]), "  "]
        self.query_one("#op-details", Static).update(Text.assemble(*parts))

    def action_edit_filter(self) -> None:
        self.query_one(Input).focus()

    def action_leave_filter(self) -> None:
        self.query_one(DataTable).focus()

    def _sort_by(self, column: str) -> None:
        if column == self.sort_column:
            self.descending = not self.descending
        else:
            self.sort_column, self.descending = column, column in ("dur_ns", "msg_bytes")
        self.row_offset = 0
        self.reload()

    def action_sort(self) -> None:
        table = self.query_one(DataTable)
        if table.columns:
            self._sort_by(analysis.OP_COLUMNS[table.cursor_column])

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self._sort_by(str(event.column_key.value))

    def action_page(self, step: int) -> None:
        if step > 0 and not (self.page and self.page.more):
            return
        self.row_offset = max(0, self.row_offset + step * PAGE)
        self.reload()

    def _cursor_op(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not self.page or not self.page.rows or table.cursor_row >= len(self.page.rows):
            return None
        return self.page.dicts()[table.cursor_row]

    def action_timeline(self) -> None:
        op = self._cursor_op()
        if op:
            pad = max(op["dur_ns"], 1000) * 4
            self.tk.show_timeline(op["rank"], op["ts_ns"] - pad, op["ts_ns"] + op["dur_ns"] + pad)

    def action_instance(self) -> None:
        op = self._cursor_op()
        if op:
            self.tk.instance_focus = (op["trace_id"], op["event_id"])
            self.app.switch_mode("instances")
