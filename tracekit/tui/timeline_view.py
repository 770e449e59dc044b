"""A focusable lane chart of one rank's window: busy time per lane and time bucket."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from tracekit.analysis import Timeline
from tracekit.tui import format as fmt

LABEL = 16
LEVELS = " ▁▂▃▄▅▆▇█"
STYLE = {"compute": "green", "comm": "red"}


class TimelineView(Widget, can_focus=True):
    """Rows are lanes (``lane`` + class), columns are equal slices of the window."""

    BINDINGS = [
        Binding("left", "move(-1)", "Cursor ←", show=False, id="tl.left"),
        Binding("right", "move(1)", "Cursor →", show=False, id="tl.right"),
        Binding("up", "lane(-1)", "Lane ↑", show=False, id="tl.up"),
        Binding("down", "lane(1)", "Lane ↓", show=False, id="tl.down"),
        Binding(
            "plus,equals_sign,z",
            "zoom(0.5)",
            "Zoom+",
            key_display="+",
            id="tl.zoom_in",
            tooltip="Halve the window around the cursor",
        ),
        Binding(
            "minus,x",
            "zoom(2)",
            "Zoom-",
            key_display="-",
            id="tl.zoom_out",
            tooltip="Double the window",
        ),
        Binding(
            "h,shift+left",
            "pan(-0.25)",
            "Pan←",
            key_display="h",
            id="tl.pan_left",
            tooltip="Shift the window a quarter earlier",
        ),
        Binding(
            "l,shift+right",
            "pan(0.25)",
            "Pan→",
            key_display="l",
            id="tl.pan_right",
            tooltip="Shift the window a quarter later",
        ),
        Binding(
            "enter",
            "select",
            "Event",
            id="tl.select",
            tooltip="Details of the event under the cursor",
        ),
    ]

    @dataclass
    class WindowRequested(Message):
        """The user zoomed or panned: show ``[start_ns, end_ns)``."""

        start_ns: int
        end_ns: int

    @dataclass
    class EventRequested(Message):
        """The user selected a cell: show the event of ``lane``/``cls`` in that slice."""

        lane: str
        cls: str
        start_ns: int
        end_ns: int

    data: reactive[Timeline | None] = reactive(None, layout=True)
    cursor: reactive[int] = reactive(0)
    lane_index: reactive[int] = reactive(0)

    @property
    def buckets(self) -> int:
        return max(self.size.width - LABEL - 1, 10)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 2 + (len(self.data.lanes) if self.data else 1)

    def render(self) -> Text:
        tl = self.data
        if tl is None:
            return Text("loading…", style="dim")
        axis = Text(" " * LABEL)
        left, right = fmt.ns(tl.start_ns), fmt.ns(tl.end_ns)
        width = tl.buckets
        mid = f"window {fmt.ns(tl.end_ns - tl.start_ns)} · {fmt.ns(tl.bucket_ns)}/cell"
        gap = max(width - len(left) - len(right) - len(mid), 2)
        axis.append(left + " " * (gap // 2) + mid + " " * (gap - gap // 2) + right, style="dim")
        lines = [axis]
        if not tl.lanes:
            lines.append(Text(" " * LABEL + "no events in this window", style="dim"))
        for i, key in enumerate(tl.lanes):
            lane, cls = key
            label_style = "reverse" if i == self.lane_index and self.has_focus else "bold"
            line = Text(f"{lane} {cls[:4]}"[: LABEL - 1].ljust(LABEL), style=label_style)
            for b, busy in enumerate(tl.busy(key)):
                char = LEVELS[0] if busy <= 0 else LEVELS[max(1, round(busy * 8))]
                style = STYLE.get(cls, "white")
                if b == self.cursor and i == self.lane_index:
                    style += " reverse"
                line.append(char, style=style)
            lines.append(line)
        cursor_ns = tl.start_ns + self.cursor * tl.bucket_ns
        lines.append(Text(" " * LABEL + f"cursor {fmt.ns(cursor_ns)}", style="dim"))
        return Text("\n").join(lines)

    def action_move(self, step: int) -> None:
        if self.data:
            self.cursor = min(max(self.cursor + step, 0), self.data.buckets - 1)

    def action_lane(self, step: int) -> None:
        if self.data and self.data.lanes:
            self.lane_index = min(max(self.lane_index + step, 0), len(self.data.lanes) - 1)

    def action_zoom(self, factor: float) -> None:
        if not self.data:
            return
        tl = self.data
        centre = tl.start_ns + self.cursor * tl.bucket_ns + tl.bucket_ns // 2
        half = max(int((tl.end_ns - tl.start_ns) * factor / 2), self.buckets // 2 + 1)
        start = max(centre - half, 0)  # near the start the window starts at 0, never before
        self.cursor = (centre - start) * self.buckets // (2 * half)
        self.post_message(self.WindowRequested(start, start + 2 * half))

    def action_pan(self, fraction: float) -> None:
        if self.data:
            shift = int((self.data.end_ns - self.data.start_ns) * fraction)
            shift = max(shift, -self.data.start_ns)  # not before the run's time 0
            self.post_message(
                self.WindowRequested(self.data.start_ns + shift, self.data.end_ns + shift)
            )

    def action_select(self) -> None:
        tl = self.data
        if tl and tl.lanes:
            lane, cls = tl.lanes[self.lane_index]
            start = tl.start_ns + self.cursor * tl.bucket_ns
            self.post_message(self.EventRequested(lane, cls, start, start + tl.bucket_ns))

    def on_click(self, event: events.Click) -> None:
        if self.data and event.x >= LABEL and 1 <= event.y <= len(self.data.lanes):
            self.cursor = min(event.x - LABEL, self.data.buckets - 1)
            self.lane_index = event.y - 1
            self.action_select()

    def on_resize(self, event: events.Resize) -> None:
        if self.data and self.data.buckets != self.buckets:
            self.post_message(self.WindowRequested(self.data.start_ns, self.data.end_ns))

    def watch_data(self, data: Timeline | None) -> None:
        if data:
            self.cursor = min(self.cursor, data.buckets - 1)
            self.lane_index = min(self.lane_index, max(len(data.lanes) - 1, 0))
