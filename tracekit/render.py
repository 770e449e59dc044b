"""Rendering rows for people (Rich tables) and scripts (CSV, JSON)."""

from __future__ import annotations

import csv
import datetime
import decimal
import json
import math
from collections.abc import Sequence
from typing import IO, Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


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
) -> None:
    table = Table(title=_title(title), title_justify="left")
    for name in columns:
        table.add_column(Text(name), overflow="fold")
    for row in rows:
        table.add_row(*(Text(_cell(v)) for v in row))
    console.print(table)
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
