"""Reading one view or table macro of ``queries/`` as a single statement, and holding an
intermediate several reads share.

The analysis API filters, orders and pages a view with DuckDB expressions. Built with the
relational API, each step (filter, order, select, limit) binds the whole view tree again
to learn its columns: on a view that reads a dozen others, such as
``collective_instances``, a bind costs about as much as planning the query, so a chain of
five steps took twice as long as the query itself. Here the steps become one ``SELECT``,
bound once, when it runs; the expressions are rendered by DuckDB (its quoting); the table
macro's arguments, the limit and the offset are parameters.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa
from duckdb import Expression

# DuckDB suggests con.sql(...) over an Arrow result of execute(), which it copies once
# more. A relation binds its statement when it is made and again when it runs; the copy of
# a view's rows costs far less than that second bind of the view tree.
warnings.filterwarnings(
    "ignore",
    message="Arrow output on a DB-API result",
    category=UserWarning,
    module=__name__.replace(".", r"\."),
)


def _name(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def read(
    con: duckdb.DuckDBPyConnection,
    source: str,
    *,
    args: Sequence[Any] | None = None,
    where: Expression | None = None,
    columns: Sequence[str] | None = None,
    order: Sequence[str] = (),
    limit: int | None = None,
    offset: int = 0,
) -> pa.Table:
    """Rows of view ``source`` (or of table macro ``source(*args)``), run as one statement.

    ``order`` are ORDER BY items over the source's columns (built by the caller from known
    column names and DuckDB expressions only); ``columns`` picks the columns returned;
    ``limit`` rows from ``offset``. A missing view raises DuckDB's CatalogException.
    """
    params: list[Any] = list(args or [])
    text = _name(source)
    if args is not None:
        text += "(" + ", ".join("?" for _ in params) + ")"
    shown = ", ".join(map(_name, columns)) if columns is not None else "*"
    text = f"SELECT {shown} FROM {text}"
    if where is not None:
        text += f" WHERE {where}"
    if order:
        text += " ORDER BY " + ", ".join(order)
    if limit is not None:
        text += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return con.execute(text, params).to_arrow_table()


@contextmanager
def hold(con: duckdb.DuckDBPyConnection, views: Sequence[str]) -> Iterator[None]:
    """While the block runs, each of ``views`` is a temporary table of this connection
    holding the view's rows, which every view reading it then reads in its place.

    The store does not change under a read-only connection, so the rows are the view's
    exactly; each is computed once instead of once per query that reads it. Only for
    intermediates of modest size (the caller's choice: aggregates, one row per
    communication op), since the rows stay in memory until the block ends; a connection
    keeps its temporary tables to itself (a cursor does not see them). A view the store
    lacks (made by an older tracekit) is not held.
    """
    held = []
    try:
        for view in views:
            try:
                con.execute(f"CREATE TEMP TABLE {_name(view)} AS SELECT * FROM {_name(view)}")
            except duckdb.CatalogException:
                continue
            held.append(view)
        yield
    finally:
        for view in held:
            con.execute(f"DROP TABLE temp.main.{_name(view)}")
