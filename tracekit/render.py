"""Rendering rows for people (Rich tables) and scripts (CSV, JSON)."""

from __future__ import annotations

import csv
import datetime
import decimal
from collections.abc import Sequence
from typing import IO, Any

import orjson
from rich.console import Console
from rich.table import Table


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def print_table(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    more: bool = False,
) -> None:
    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    note = f"{len(rows):,} rows" + (" shown; more not shown (raise --limit)" if more else "")
    console.print(f"[dim]{note}[/dim]")


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def write_rows(out: IO[str], fmt: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]):
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        out.write(
            orjson.dumps(records, default=_json_default, option=orjson.OPT_INDENT_2).decode() + "\n"
        )


def write_json(out: IO[str], value: Any) -> None:
    """One JSON document (indented), decimals as numbers, dates as ISO text."""
    out.write(
        orjson.dumps(value, default=_json_default, option=orjson.OPT_INDENT_2).decode() + "\n"
    )
