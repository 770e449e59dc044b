"""Timeline: one rank's compute and communication lanes over a window; zoom, pan, select."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tracekit import analysis
from tracekit.tui import format as fmt
from tracekit.tui.base import BaseScreen
from tracekit.tui.messages import QueryDone, QueryFailed
from tracekit.tui.timeline_view import TimelineView


def load_window(
    con: Any, *, run: str, rank: int, start_ns: int | None, end_ns: int | None, buckets: int
) -> analysis.Timeline | None:
    """The window's timeline; the rank's whole span when no window is given."""
    if start_ns is None or end_ns is None:
        span = analysis.rank_span(con, run=run, rank=rank)
        if span is None:
            return None
        start_ns, end_ns = span
    return analysis.lanes(
        con, run=run, rank=rank, start_ns=start_ns, end_ns=end_ns, buckets=buckets
    )


def event_at(con: Any, **window: Any) -> dict[str, Any] | None:
    """The longest event of the lane group and class in the window, or None."""
    rows = analysis.event_at(con, **window).dicts()
    return rows[0] if rows else None


def describe(event: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in ("name", "kind", "lane", "cls", "ts_ns", "dur_ns", "dtype", "in_nelems", "pg_name"):
        value = event.get(key)
        if value is not None:
            shown = fmt.cell(key, value) if key != "name" else Text(str(value))
            table.add_row(fmt.header(key), shown)
    if event.get("args"):
        table.add_row("args", Text(str(event["args"])[:400], style="dim"))
    return table


HINT = "Enter (or a click) on a cell shows its event."


class TimelineScreen(BaseScreen):
    MODE = "timeline"
    AUTO_FOCUS = "TimelineView"
    BINDINGS = [
        Binding("n", "rank(1)", "Rank+", id="timeline.next_rank", tooltip="Same window, next rank"),
        Binding(
            "p", "rank(-1)", "Rank-", id="timeline.prev_rank", tooltip="Same window, previous rank"
        ),
        Binding("r", "reset", "Reset", id="timeline.reset", tooltip="The rank's whole span"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rank = 0
        self.window: tuple[int, int] | None = None
        self.shown: tuple[Any, ...] | None = None

    def compose_body(self) -> Iterable[Any]:
        yield TimelineView(id="timeline")
        with VerticalScroll(id="details-box"):
            yield Static(HINT, id="details", markup=False)

    def _forget_event(self) -> None:
        """Another rank or window: the event shown (or still loading) no longer applies."""
        self.workers.cancel_group(self, "detail")
        self.query_one("#details", Static).update(HINT)

    def on_screen_resume(self) -> None:
        request = self.tk.timeline_request
        if request is not None:
            self.tk.timeline_request = None
            self.rank, start, end = request
            self.window = (start, end) if start is not None and end is not None else None
            self._forget_event()
        elif self.shown is None or self.shown[0] != self.tk.run_id:
            self.rank, self.window = self.tk.rank or 0, None
        self.call_after_refresh(self.reload)

    def _show_context(self, run: str | None, note: str) -> None:
        self.set_context("run ", (run or "—", "b"), " · rank ", (str(self.rank), "b"), note)

    def reload(self) -> None:
        run = self.tk.run_id
        self._show_context(run, " · +/- zoom, h/l pan")
        if not run:
            return
        view = self.query_one(TimelineView)
        state = (run, self.rank, self.window, view.buckets)
        if state == self.shown:
            return
        self.shown = state
        self._show_context(run, " · loading…")
        start, end = self.window or (None, None)
        self.load(
            "window",
            load_window,
            run=run,
            rank=self.rank,
            start_ns=start,
            end_ns=end,
            buckets=view.buckets,
        )

    def on_resize(self) -> None:
        if self.is_current:
            self.reload()

    def on_query_done(self, message: QueryDone) -> None:
        if message.key == "event":
            details = self.query_one("#details", Static)
            details.update(describe(message.result) if message.result else "no event there")
            return
        view = self.query_one(TimelineView)
        self._show_context(self.tk.run_id, " · +/- zoom, h/l pan")
        if message.result is None:
            self.query_one("#details", Static).update(f"rank {self.rank} has no events")
        view.data = message.result

    def on_query_failed(self, message: QueryFailed) -> None:
        self.show_error("#details", message.error)

    def on_timeline_view_window_requested(self, message: TimelineView.WindowRequested) -> None:
        self.window = (message.start_ns, message.end_ns)
        self.reload()

    def on_timeline_view_event_requested(self, message: TimelineView.EventRequested) -> None:
        self.query_one("#details", Static).update("loading…")
        self.load_detail(
            "event",
            event_at,
            run=self.tk.run_id,
            rank=self.rank,
            lane=message.lane,
            cls=message.cls,
            start_ns=message.start_ns,
            end_ns=message.end_ns,
        )

    def action_rank(self, step: int) -> None:
        self.rank = max(0, self.rank + step)
        self._forget_event()
        self.reload()

    def action_reset(self) -> None:
        self.window = None
        self.shown = None
        self._forget_event()
        self.reload()
