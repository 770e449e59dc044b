"""Rendering rows for people (Rich tables in the terminal) and scripts (CSV, JSON).

The one formatter of the terminal's tables (``sql``, ``report``, ``model``, ``validate``,
``rules list``, the import summary): :func:`cell`. Every cell and title is a Rich
``Text``, so data is shown as written (``[/x]`` and ``:x:`` are not markup or emoji).
"""

from __future__ import annotations

import csv
import datetime
import decimal
import json
import math
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

import orjson
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    import polars as pl


UNITS = ("bytes", "s", "ratio")
"""Units a caller may give :func:`cell` for a column: human bytes (kB, MB, GB: powers of
1000), seconds shown as ms, ratios with three decimals."""


def human_bytes(value: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= size:
            return f"{value / size:,.2f} {unit}"
    return f"{value:,.0f} B"


def cell(value: Any, unit: str | None = None) -> str:
    """A value as terminal text: NULL, thousands separators, at most four decimals, lists
    joined; numbers in ``unit`` (one of UNITS) shown in it."""
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return ", ".join(cell(v, unit) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if unit == "bytes":
            return human_bytes(value)
        if unit == "s":
            return f"{value * 1e3:,.3f} ms"
        if unit == "ratio":
            return f"{value:.3f}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def ns_as_ms(df: pl.DataFrame) -> pl.DataFrame:
    """``*_ns`` columns as ``*_ms`` (rounded to the µs), for people."""
    import polars as pl  # only the commands that have frames pay for it

    return df.with_columns(
        (pl.col(c) / 1e6).round(3).alias(c.removesuffix("_ns") + "_ms")
        for c in df.columns
        if c.endswith("_ns")
    ).select(c.removesuffix("_ns") + "_ms" if c.endswith("_ns") else c for c in df.columns)


def _title(title: str | None) -> Text | None:
    """A table title taken literally (no markup), in Rich's title style."""
    return None if title is None else Text(title, style="table.title")


def _width(text: str) -> int:
    """Terminal cells the widest line of ``text`` takes."""
    return max(cell_len(line) for line in text.split("\n"))


def _edge(widths: Sequence[int]) -> int:
    """Width of a table of columns this wide: one space of padding each side, a border between."""
    return sum(widths) + 3 * len(widths) + 1


def fit_columns(widths: Sequence[int], room: int) -> list[int] | None:
    """The columns to show in ``room`` cells, as indices, or None when all of them fit.

    Like the ``duckdb`` CLI, values stay whole and middle columns give way to a one-cell
    ``…`` column: the first and last columns are kept, then as many as fit from the left
    (where the keys of a row are: rank, lane, stage, …).
    """
    if _edge(widths) <= room:
        return None
    last = len(widths) - 1
    keep = [0]
    for index in range(1, last):
        if _edge([widths[i] for i in (*keep, index, last)] + [1]) > room:
            break
        keep.append(index)
    return [*keep, last] if last > 0 else keep


def print_table(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    more: bool = False,
    headers: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    right: Sequence[str] = (),
    count: bool = True,
) -> None:
    """A table of ``rows``: ``headers`` renames columns, ``units`` gives a column's unit
    (see :func:`cell`), ``right`` columns are right-aligned; then the row count.

    A value is never wrapped or cut. In a terminal too narrow for every column the
    middle ones are hidden (see :func:`fit_columns`) and a note names them; written to a
    pipe or file the table takes the width it needs (no terminal width is assumed).
    """
    names = [(headers or {}).get(name, name) for name in columns]
    texts = [
        [cell(v, (units or {}).get(c)) for c, v in zip(columns, row, strict=True)] for row in rows
    ]
    widths = [max([_width(n), *(_width(r[i]) for r in texts)]) for i, n in enumerate(names)]
    shown = fit_columns(widths, console.width) if console.is_terminal else None
    keep = list(range(len(columns))) if shown is None else shown
    table = Table(title_justify="left")
    for position, i in enumerate(keep):
        if shown is not None and position > 0 and keep[position - 1] != i - 1:
            table.add_column("…", no_wrap=True)
        justify = "right" if columns[i] in right else "left"
        table.add_column(Text(names[i]), no_wrap=True, justify=justify, min_width=widths[i])
    gap = next((p for p in range(1, len(keep)) if keep[p] != keep[p - 1] + 1), None)
    for row in texts:
        values = [Text(row[i]) for i in keep]
        if gap is not None:
            values.insert(gap, Text("…"))
        table.add_row(*values)
    if title is not None:
        console.print(_title(title), soft_wrap=True)
    needed = _edge([widths[i] for i in keep] + ([1] if gap is not None else []))
    _wide(console, needed).print(table)
    if shown is not None:
        hidden = [names[i] for i in range(len(columns)) if i not in keep]
        console.print(
            Text(
                f"{len(hidden)} of {len(columns)} columns hidden to fit {console.width} "
                f"columns: {', '.join(hidden)} (widen the terminal, or pipe the output, "
                "e.g. into less -S, to see every column)",
                style="dim",
            ),
            soft_wrap=True,
        )
    if count:
        note = f"{len(rows):,} rows" + (" shown; more not shown (raise --limit)" if more else "")
        console.print(Text(note, style="dim"))


def _wide(console: Console, needed: int) -> Console:
    """``console``, or one writing to the same file ``needed`` cells wide where it is narrower
    (a pipe, or a terminal narrower than the columns that must stay whole)."""
    if needed <= console.width:
        return console
    return Console(
        file=console.file,
        width=needed,
        color_system=console.color_system,  # type: ignore[arg-type]  # its own name, or None
        force_terminal=console.is_terminal,
        no_color=console.no_color,
        legacy_windows=console.legacy_windows,
    )


def print_pairs(
    console: Console, pairs: Sequence[tuple[str, str]], *, title: str | None = None
) -> None:
    """A headerless two-column table of names and values, both taken literally and whole."""
    table = Table(show_header=False)
    for _ in range(2):
        table.add_column(no_wrap=True)
    for name, value in pairs:
        table.add_row(Text(name), Text(value))
    if title is not None:
        console.print(_title(title), soft_wrap=True)
    widths = [max((_width(pair[i]) for pair in pairs), default=0) for i in range(2)]
    _wide(console, _edge(widths)).print(table)


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def write_rows(
    out: IO[str], fmt: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        write_json(out, [dict(zip(columns, row, strict=True)) for row in rows])


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats as None (JSON has no NaN), containers walked."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(out: IO[str], value: Any) -> None:
    """One JSON document (indented), decimals as numbers, dates as ISO text.

    Integers beyond 64 bits (DuckDB HUGEINT) are written whole, by the standard library
    (orjson refuses them).
    """
    try:
        text = orjson.dumps(value, default=_json_default, option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONEncodeError:
        text = json.dumps(_finite(value), default=_json_default, indent=2, ensure_ascii=False)
    out.write(text + "\n")
