"""What every screen shares: the navigation bar, the footer, query workers, result tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any

import duckdb
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from tracekit.analysis import Result
from tracekit.errors import TracekitError
from tracekit.tui import format as fmt
from tracekit.tui.messages import QueryDone, QueryFailed

if TYPE_CHECKING:
    from tracekit.tui.app import TracekitApp

SCREENS: tuple[tuple[str, str, str], ...] = (
    ("1", "runs", "Runs"),
    ("2", "ranks", "Ranks"),
    ("3", "collectives", "Collectives"),
    ("4", "overlap", "Overlap"),
    ("5", "instances", "Instances"),
    ("6", "timeline", "Timeline"),
    ("7", "sql", "SQL"),
)


class NavBar(Static):
    """The screens, numbered; the current one highlighted; each one clickable."""

    def __init__(self, current: str) -> None:
        items = []
        for key, mode, label in SCREENS:
            style = "reverse b" if mode == current else ""
            items.append(f"[{style} @click=app.switch_mode('{mode}')] {key} {label} [/]")
        super().__init__("".join(items), id="nav")


class BaseScreen(Screen[None]):
    """A screen with the navigation bar, a context line and the footer.

    Queries run in thread workers (``load``/``load_detail``), each on its own
    cursor; they post :class:`QueryDone` or :class:`QueryFailed`.
    """

    MODE = ""
    AUTO_FOCUS = "DataTable"

    def __init__(self) -> None:
        super().__init__()
        self.open_cursors: dict[str, duckdb.DuckDBPyConnection] = {}

    @property
    def tk(self) -> TracekitApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield Static("", id="context", markup=False)
        yield from self.compose_body()
        yield Footer(compact=True, show_command_palette=False)

    def compose_body(self) -> Iterable[Any]:
        return ()

    def set_context(self, *parts: str | tuple[str, str]) -> None:
        """The context line: plain parts and (text, style) pairs, data shown literally."""
        self.query_one("#context", Static).update(Text.assemble(*parts))

    def show_error(self, selector: str, error: str) -> None:
        """An error message (it may quote data) in red, taken literally."""
        self.query_one(selector, Static).update(Text(error, style="red"))

    @work(thread=True, exclusive=True, group="main")
    def load(self, key: str, fn: Callable[..., Any], **kwargs: Any) -> None:
        self._run(key, fn, kwargs)

    @work(thread=True, exclusive=True, group="detail")
    def load_detail(self, key: str, fn: Callable[..., Any], **kwargs: Any) -> None:
        self._run(key, fn, kwargs)

    def _run(self, key: str, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        worker = get_current_worker()
        cursor = self.tk.con.cursor()
        self.open_cursors[key] = cursor
        start = perf_counter()
        message: QueryDone | QueryFailed
        try:
            result = fn(cursor, **kwargs)
            took = perf_counter() - start if self.tk.show_timings else None
            message = QueryDone(key, result, took)
        except (duckdb.Error, TracekitError) as exc:
            message = QueryFailed(key, str(exc))
        finally:
            self.open_cursors.pop(key, None)
            cursor.close()
        if not worker.is_cancelled:
            self.post_message(message)

    def interrupt(self, key: str) -> bool:
        """Stop the running query ``key`` (DuckDB raises in its worker); False if none runs."""
        cursor = self.open_cursors.get(key)
        if cursor is None:
            return False
        cursor.interrupt()
        return True


def fill_table(
    table: DataTable[Any],
    result: Result,
    *,
    columns: Sequence[str] | None = None,
    extra: Callable[[dict[str, Any]], Sequence[Text | str]] | None = None,
    extra_columns: Sequence[str] = (),
    labels: dict[str, str] | None = None,
) -> None:
    """Replace the table's content with ``result`` (formatted by column unit).

    Headers are the column names without their unit suffix (each cell shows its unit);
    ``labels`` gives other headers for some columns (keys stay the column names).
    """
    table.clear(columns=True)
    shown = list(columns or result.columns)
    for name in [*shown, *extra_columns]:
        table.add_column(Text((labels or {}).get(name, fmt.header(name))), key=name)
    for row in result.dicts():
        cells: list[Any] = [fmt.cell(name, row[name]) for name in shown]
        if extra:
            cells.extend(extra(row))
        table.add_row(*cells)
    table.loading = False


def count_note(result: Result, seconds: float | None, *, offset: int = 0) -> str:
    """'rows 1–200 of >200 · 0.12 s' (the time only where the app shows timings)."""
    n = len(result.rows)
    took = "" if seconds is None else f" · {seconds:.2f} s"
    if not n:
        return f"no rows{took}"
    span = f"{offset + 1:,}–{offset + n:,}" if offset else f"{n:,}"
    more = f" of >{offset + n:,}" if result.more else f" of {offset + n:,}"
    return f"rows {span}{more}{took}"
