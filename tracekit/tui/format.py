"""Turning values into short, aligned cell text and bars (Rich only)."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from rich.text import Text

_BLOCKS = " ▏▎▍▌▋▊▉█"


def ns(value: float | None) -> str:
    """Nanoseconds as a short duration: 950 ns, 12.3 µs, 4.56 ms, 1.23 s."""
    if value is None:
        return "—"
    v = float(value)
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {unit}" if abs(v) / scale < 100 else f"{v / scale:.0f} {unit}"
    return f"{v:.0f} ns"


def nbytes(value: float | None) -> str:
    """Bytes with binary prefixes: 512 B, 64 KiB, 1.5 MiB."""
    if value is None:
        return "—"
    v = float(value)
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.0f} B"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{float(value):.1f}%"


_UNITS = ("_ns", "_bytes", "_pct")


def header(column: str) -> str:
    """A column's heading: the name without its unit suffix (``dur_ns`` -> ``dur``), since
    :func:`cell` shows each value with its own unit (4.56 ms, 64 KiB, 12.5%)."""
    for suffix in _UNITS:
        if column.endswith(suffix) and len(column) > len(suffix):
            return column.removesuffix(suffix)
    return column


def cell(column: str, value: Any) -> Text:
    """Format by the unit in the column name (``*_ns``, ``*_bytes``, ``*_pct``).

    Always a :class:`Text`, so data is shown as it is (never read as markup).
    """
    if value is None:
        return Text("NULL", style="dim")
    return Text(_cell_text(column, value))


def _cell_text(column: str, value: Any) -> str:
    if column.endswith("_ns") and isinstance(value, (int, float, decimal.Decimal)):
        return ns(float(value)) if column != "ts_ns" else f"{float(value) / 1e6:,.3f} ms"
    if column.endswith("bytes") and isinstance(value, (int, float, decimal.Decimal)):
        return nbytes(float(value))
    if column.endswith("_pct") and isinstance(value, (int, float, decimal.Decimal)):
        return pct(float(value))
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat(sep=" ", timespec="seconds")
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def bar(fraction: float, width: int, style: str) -> Text:
    """A horizontal bar of ``width`` cells filled to ``fraction`` (eighth-cell steps)."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    body = "█" * full + (_BLOCKS[part] if part and full < width else "")
    return Text(body.ljust(width), style=style)


def stacked_bar(parts: list[tuple[float, str]], width: int) -> Text:
    """Segments of one bar (fractions of the whole, each with a style), idle shown as '·'."""
    text = Text()
    used = 0
    for fraction, style in parts:
        cells = min(width - used, round(max(fraction, 0.0) * width))
        text.append("█" * cells, style=style)
        used += cells
    text.append("·" * (width - used), style="dim")
    return text
