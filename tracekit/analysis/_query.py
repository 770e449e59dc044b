"""The one way the analysis API reads the store: a view or table macro of ``queries/``,
filtered, ordered and paged with DuckDB expressions (run as one statement by
:func:`tracekit.store.read.read`), into one result type.

No SQL text lives here: the questions are the views and macros of ``queries/views``;
a caller names one, with column filters built as DuckDB expressions. A database made
by an older tracekit may lack a view: that is :class:`MissingView`, everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl
from duckdb import CaseExpression, ColumnExpression, ConstantExpression, Expression

from tracekit import store
from tracekit.errors import InputError
from tracekit.store.read import read

_MISSING = re.compile(r"with name (\w+) does not exist")


@dataclass(frozen=True)
class Result:
    """Rows of one analysis: a Polars frame, where it starts in the full answer and whether
    more rows follow (read as LIMIT + 1, so nothing is counted)."""

    frame: pl.DataFrame
    offset: int = 0
    more: bool = False

    @property
    def columns(self) -> list[str]:
        return self.frame.columns

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        return self.frame.rows()

    def dicts(self) -> list[dict[str, Any]]:
        return self.frame.to_dicts()


class MissingView(InputError):
    """The database lacks a view or macro of this tracekit version (an older store)."""

    def __init__(self, view: str) -> None:
        super().__init__(
            f"view {view} not available in this database",
            "Re-import with this tracekit version (`tracekit import`) to get it.",
        )
        self.view = view


def missing_view(exc: duckdb.CatalogException) -> MissingView:
    found = _MISSING.search(str(exc))
    return MissingView(found.group(1) if found else str(exc).splitlines()[0])


def tidy(df: pl.DataFrame) -> pl.DataFrame:
    """Integral decimals (DuckDB sums of BIGINT) as Int64, other decimals as Float64."""
    casts = [
        pl.col(name).cast(pl.Int64 if dtype.scale == 0 else pl.Float64)
        for name, dtype in df.schema.items()
        if isinstance(dtype, pl.Decimal)
    ]
    return df.with_columns(casts) if casts else df


def equal(**columns: Any) -> Expression | None:
    """``column = value`` for every value that is not None, and-ed; None if there is none."""
    terms = [
        ColumnExpression(k) == ConstantExpression(v) for k, v in columns.items() if v is not None
    ]
    if not terms:
        return None
    where = terms[0]
    for term in terms[1:]:
        where = where & term
    return where


def is_(column: str, value: Any) -> Expression:
    """``column IS NOT DISTINCT FROM value`` (a NULL value matches NULL)."""
    if value is None:
        return ColumnExpression(column).isnull()
    return ColumnExpression(column) == ConstantExpression(value)


def select(
    con: duckdb.DuckDBPyConnection,
    source: str,
    *,
    args: Sequence[Any] | None = None,
    where: Expression | None = None,
    columns: Sequence[str] | None = None,
    order: str | None = None,
    first: Expression | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Result:
    """Rows of view ``source`` (or of table macro ``source(*args)``).

    ``order`` is an ORDER BY list over the source's columns (callers build it from known
    column names only), applied before ``columns`` picks the columns returned; rows that
    ``first`` holds for come before the others; with ``limit``, one row more is read to set
    ``more``.
    """
    keys = [] if order is None else [order]
    if first is not None:
        rank = CaseExpression(first, ConstantExpression(0)).otherwise(ConstantExpression(1))
        keys.insert(0, str(rank))
    try:
        table = read(
            con,
            source,
            args=args,
            where=where,
            columns=columns,
            order=keys,
            limit=None if limit is None else limit + 1,
            offset=offset,
        )
        df = tidy(pl.from_arrow(table, rechunk=False))
    except duckdb.CatalogException as exc:
        raise missing_view(exc) from exc
    if limit is not None and df.height > limit:
        return Result(df.head(limit), offset, more=True)
    return Result(df, offset)


def run_sql(con: duckdb.DuckDBPyConnection, text: str, *, limit: int = 1000) -> Result:
    """A user's own query (the TUI's SQL screen) on a read-only session: its first
    ``limit`` rows.

    Run by :func:`tracekit.store.run_query` (queries only; an error is an InputError the
    console shows inline). A column Polars cannot hold is kept as text; a repeated column
    name gets a ``_2`` suffix.
    """
    cur = store.run_query(con, text)
    if cur.description is None:
        return Result(pl.DataFrame())
    names = [d[0] for d in cur.description]
    rows = cur.fetchmany(limit + 1)
    series, seen = [], set()
    for index, name in enumerate(names):
        unique, n = name, 1
        while unique in seen:
            n += 1
            unique = f"{name}_{n}"
        seen.add(unique)
        values = [row[index] for row in rows[:limit]]
        try:
            series.append(pl.Series(unique, values))
        except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
            text = [None if v is None else str(v) for v in values]
            series.append(pl.Series(unique, text, dtype=pl.String))
    return Result(pl.DataFrame(series), more=len(rows) > limit)
