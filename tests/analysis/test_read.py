"""store.read: a view or table macro filtered, ordered and paged as one statement, and the
analysis API's select over it."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest
from duckdb import ColumnExpression, ConstantExpression

from tracekit.analysis._query import MissingView, equal, select
from tracekit.store.read import hold, read

QUOTED = 'it\'s "x"'
ROWS = [(1, "a", 30), (2, QUOTED, 10), (3, "a", 20), (4, None, 40)]


def rows(table: pa.Table) -> list[tuple]:
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute('CREATE TABLE t (id INTEGER, "the name" VARCHAR, v BIGINT)')
    connection.executemany("INSERT INTO t VALUES (?, ?, ?)", ROWS)
    connection.execute("CREATE VIEW v AS SELECT * FROM t")
    connection.execute("CREATE MACRO above(lo, name) AS TABLE SELECT * FROM t WHERE v > lo")
    yield connection
    connection.close()


def test_filter_order_columns_and_page(con: duckdb.DuckDBPyConnection) -> None:
    where = ColumnExpression("v") >= ConstantExpression(20)
    found = read(con, "v", where=where, columns=["id"], order=["v DESC"], limit=2, offset=1)
    assert rows(found) == [(1,), (3,)]


def test_constants_and_names_are_quoted(con: duckdb.DuckDBPyConnection) -> None:
    where = equal(**{"the name": QUOTED})
    assert rows(read(con, "v", where=where, columns=["the name", "id"])) == [(QUOTED, 2)]


def test_first_rows_lead_then_the_order(con: duckdb.DuckDBPyConnection) -> None:
    first = ColumnExpression("the name") == ConstantExpression("a")
    page = select(con, "v", columns=["id"], order="v DESC", first=first)
    assert page.rows == [(1,), (3,), (4,), (2,)]


def test_table_macro_arguments_are_parameters(con: duckdb.DuckDBPyConnection) -> None:
    found = read(con, "above", args=[15, "it's"], columns=["id"], order=["id"], limit=10)
    assert rows(found) == [(1,), (3,), (4,)]


def test_select_pages_and_says_more(con: duckdb.DuckDBPyConnection) -> None:
    page = select(con, "v", order="id", columns=["id", "v"], limit=2, offset=1)
    assert (page.rows, page.offset, page.more) == ([(2, 10), (3, 20)], 1, True)
    last = select(con, "v", order="id", columns=["id"], limit=2, offset=2)
    assert (last.rows, last.more) == ([(3,), (4,)], False)


def test_a_missing_view_is_missing_view(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(MissingView) as caught:
        select(con, "no_such_view", where=equal(id=1))
    assert caught.value.view == "no_such_view"


def test_hold_keeps_a_views_rows_for_the_block(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE VIEW w AS SELECT count(*) AS n FROM v")
    with hold(con, ["v", "no_such_view"]):
        con.execute("INSERT INTO t VALUES (5, 'b', 50)")
        assert con.execute("SELECT n FROM w").fetchall() == [(4,)]  # w reads the held rows
        assert rows(read(con, "v", columns=["id"], order=["id"])) == [(1,), (2,), (3,), (4,)]
    assert con.execute("SELECT n FROM w").fetchall() == [(5,)]
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]
