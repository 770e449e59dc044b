"""Runs: every run in the database with the comparison columns of `tracekit compare`;
Enter picks one for the other screens, space marks runs, c compares the marked ones."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tracekit import analysis
from tracekit.tui.base import BaseScreen, count_note, fill_table
from tracekit.tui.messages import QueryDone, QueryFailed

COMPARISON = (
    "model",
    "dtype",
    "batch",
    "prompt_len",
    "gen_len",
    "scope",
    "calls",
    "bytes",
    "max_rank_bytes",
    "tp_lane_bytes",
    "outside_calls",
    "comm_ns",
    "exposed_comm_ns",
    "ttft_ns",
    "tpot_ns",
    "e2e_ns",
    "comm_pct",
    "e2e_exposed_comm_pct",
)
"""The measured columns of ``run_comparison`` shown beside each run (docs/study.md)."""
MARK = "✓"


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
        Binding("space", "mark", "Mark", id="runs.mark", tooltip="Mark this run to compare"),
        Binding(
            "c",
            "compare",
            "Compare marked",
            id="runs.compare",
            tooltip="Only the marked runs, by measured bytes (c again: every run)",
        ),
        Binding("r", "reload", "Reload", id="runs.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.overview: analysis.Result | None = None
        self.comparison: analysis.Result | None = None
        self.comparison_note = "comparison: computing…"
        self.seconds: float | None = None
        self.interrupted = False
        self.marked: set[str] = set()
        self.only_marked = False

    def compose_body(self) -> Iterable[Any]:
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="status", classes="status", markup=False)

    def on_mount(self) -> None:
        self.action_reload()

    def on_screen_resume(self) -> None:
        computing = "comparison" in self.open_cursors
        if self.overview is not None and self.comparison is None and not computing:
            self.load_comparison()  # stopped (or not begun) while the screen was left
        self.show_context()

    def on_screen_suspend(self) -> None:
        self.interrupted = self.interrupt("comparison")  # the other screens get the CPU

    def show_context(self) -> None:
        parts: list[str | tuple[str, str]] = [(self.tk.db_name, "b")]
        parts.append(f" · run: {self.tk.run_id or '—'}")
        if self.only_marked:
            parts.append(f" · comparing {len(self.marked)} marked runs by bytes (c: all runs)")
        elif self.marked:
            parts.append(f" · marked: {len(self.marked)} (c: compare them)")
        self.set_context(*parts)

    def action_reload(self) -> None:
        self.query_one(DataTable).loading = True
        self.interrupted = self.interrupt("comparison")
        self.comparison = None
        self.load("runs", analysis.runs)

    def load_comparison(self) -> None:
        self.comparison_note = "comparison: computing…"
        self.load_detail("comparison", analysis.run_comparison)

    def on_query_done(self, message: QueryDone) -> None:
        if message.key == "runs":
            self.overview, self.seconds = message.result, message.seconds
            if self.is_current:
                self.load_comparison()
        else:
            self.comparison = message.result
            self.comparison_note = ""
        self.show()

    def on_query_failed(self, message: QueryFailed) -> None:
        if message.key == "runs":
            self.query_one(DataTable).loading = False
            self.show_error("#status", message.error)
        elif self.interrupted:  # stopped on leaving the screen: computed again on return
            self.interrupted = False
        else:
            self.comparison_note = f"comparison: {message.error}"
            self.show()

    def rows(self, overview: analysis.Result) -> pl.DataFrame:
        """The runs shown: the overview with the comparison columns once computed, the
        mark, and only the marked runs (by measured bytes) while comparing."""
        frame = overview.frame
        if self.comparison is not None:
            measured = self.comparison.frame
            measured = measured.select("run_id", *(c for c in COMPARISON if c in measured.columns))
            frame = frame.join(measured, on="run_id", how="left", maintain_order="left")
        marks = [MARK if r in self.marked else "" for r in frame["run_id"]]
        frame = frame.with_columns(mark=pl.Series(marks, dtype=pl.String)).select(
            "run_id", "mark", pl.exclude("run_id", "mark")
        )
        if self.only_marked:
            frame = frame.filter(pl.col("run_id").is_in(sorted(self.marked)))
            if self.comparison is not None:
                frame = frame.sort("bytes", "run_id", nulls_last=True)
        return frame

    def show(self, cursor: str | None = None) -> None:
        """Fill the table; the cursor on run ``cursor`` (default: the current run)."""
        if self.overview is None:
            return
        table = self.query_one(DataTable)
        result = analysis.Result(self.rows(self.overview))
        fill_table(table, result, labels={"mark": MARK})
        note = count_note(result, self.seconds)
        status = self.query_one("#status", Static)
        status.update(f"{note} · {self.comparison_note}" if self.comparison_note else note)
        runs = result.frame["run_id"].to_list()
        if runs and self.tk.run_id is None:
            self.tk.run_id = runs[0]
        cursor = cursor or self.tk.run_id
        if cursor in runs:
            table.move_cursor(row=runs.index(cursor))
        self.show_context()

    def cursor_run(self) -> str | None:
        table = self.query_one(DataTable)
        return str(table.get_row_at(table.cursor_row)[0]) if table.row_count else None

    def action_mark(self) -> None:
        run = self.cursor_run()
        if run is None:
            return
        self.marked.symmetric_difference_update({run})
        self.show(cursor=run)
        self.query_one(DataTable).action_cursor_down()  # the next run, to mark several

    def action_compare(self) -> None:
        if not self.only_marked and not self.marked:
            self.notify("Mark runs with space first.", severity="warning")
            return
        self.only_marked = not self.only_marked
        self.show(cursor=self.cursor_run())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_pick()

    def action_pick(self) -> None:
        run = self.cursor_run()
        if run is not None:
            self.tk.choose_run(run)
            self.app.switch_mode("ranks")
