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
    (see :func:`cell`), ``right`` columns are right-aligned; then the row count."""
    table = Table(title=_title(title), title_justify="left")
    for name in columns:
        justify = "right" if name in right else "left"
        table.add_column(Text((headers or {}).get(name, name)), overflow="fold", justify=justify)
    for row in rows:
        table.add_row(
            *(Text(cell(v, (units or {}).get(c))) for c, v in zip(columns, row, strict=True))
        )
    console.print(table)
    if count:
        note = f"{len(rows):,} rows" + (" shown; more not shown (raise --limit)" if more else "")
        console.print(Text(note, style="dim"))


def print_pairs(
    console: Console, pairs: Sequence[tuple[str, str]], *, title: str | None = None
) -> None:
    """A headerless two-column table of names and values, both taken literally."""
    table = Table(title=_title(title), show_header=False, title_justify="left")
    for name, value in pairs:
        table.add_row(Text(name), Text(value))
    console.print(table)


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
