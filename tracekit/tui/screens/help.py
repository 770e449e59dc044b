"""Help: every key binding of the app and of the screen it was opened from."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tracekit.tui.timeline_view import TimelineView


def bindings_table(title: str, bindings: list[Binding]) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        show_header=False,
        box=None,
        expand=True,
    )
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for b in bindings:
        if b.description:
            keys = b.key_display or b.key.replace(",", " / ")
            table.add_row(keys, b.description + (f" — {b.tooltip}" if b.tooltip else ""))
    return table


class HelpScreen(ModalScreen[None]):
    """Opened with ? or F1; any of Esc, q, ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close")]

    def __init__(self, app_bindings: list[Binding], screen: Screen[None]) -> None:
        super().__init__()
        self.app_bindings = app_bindings
        self.origin = screen

    def compose(self) -> ComposeResult:
        screen_bindings = [b for b in self.origin.BINDINGS if isinstance(b, Binding)]
        with VerticalScroll(id="help"):
            yield Static(bindings_table("Everywhere", self.app_bindings))
            yield Static(bindings_table(f"This screen ({self.origin.MODE})", screen_bindings))  # type: ignore[attr-defined]
            if self.origin.query(TimelineView):
                yield Static(bindings_table("Timeline chart", list(TimelineView.BINDINGS)))  # type: ignore[arg-type]
            yield Static("[dim]Esc closes · tables sort on header click · mouse works[/]")
