"""Each rewrite of tracekit.spark.transpile gives on Spark the rows DuckDB gives for the
original query: ASOF joins (ties, NULL keys, LEFT and inner), several unnest in one
SELECT, and the DuckDB functions with a Spark form."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from tests.spark.conftest import why_no_spark
from tracekit.spark import kept_views, needed
from tracekit.spark.transpile import Catalog, to_spark, translate

pytestmark = pytest.mark.skipif(why_no_spark() is not None, reason=str(why_no_spark()))

PROBES = (
    "p(trace_id, pid, tid, t) AS (VALUES (1, 7, 1, 5), (1, 7, 1, 10), (1, 7, 1, 15), "
    "(1, NULL, 1, 12), (1, 7, NULL, 12), (2, 7, 1, 3), (1, 7, 2, 100))"
)
BUILDS = (
    "k(trace_id, pid, tid, s, v) AS (VALUES (1, 7, 1, 4, 'a'), (1, 7, 1, 10, 'b'), "
    "(1, NULL, 1, 11, 'n'), (1, 7, NULL, 1, 'x'), (2, 7, 1, 4, 'c'), (1, 8, 1, 1, 'o'))"
)
QUERIES = {
    "asof left join (null-safe and plain keys, a tie at t = 10)": (
        f"WITH {PROBES}, {BUILDS} SELECT p.trace_id, p.pid, p.tid, p.t, k.v, k.s "
        "FROM p ASOF LEFT JOIN k ON k.trace_id = p.trace_id AND k.pid IS NOT DISTINCT FROM p.pid "
        "AND k.tid = p.tid AND k.s <= p.t"
    ),
    "asof inner join with a WHERE on the match": (
        f"WITH {PROBES}, {BUILDS} SELECT p.t, k.v FROM p ASOF JOIN k "
        "ON k.trace_id = p.trace_id AND k.tid = p.tid AND p.t >= k.s WHERE p.t < k.s + 5"
    ),
    "two unnest in one select": (
        "WITH x(a, s, e) AS (VALUES (1, 10, 20), (2, 30, 40)) "
        "SELECT a, unnest([s, e]) AS t, unnest([-1, 1]) AS sign FROM x"
    ),
    "format_bytes of powers of two (comm_summary's size buckets)": (
        "SELECT b, format_bytes(b) AS f FROM (VALUES "
        + ", ".join(f"({2**i})" for i in range(44))
        + ") AS x(b)"
    ),
    "list_position, 1-based index, len": (
        "SELECT list_position(['a', 'b'], 'b') AS p, list_position(['a'], 'z') AS missing, "
        "['x', 'y'][list_position(['a', 'b'], 'b')] AS second, "
        "['x', 'y'][list_position(['a'], 'z')] AS none, len([1, 2, 3]) AS n"
    ),
    "literal list indexes, first and last (sqlglot shifts literals to 0-based)": (
        "WITH x(m) AS (VALUES ([3, 4, 5]), ([7]), ([2, 9])) "
        "SELECT m[1] AS first, m[-1] AS last, "
        "m = range(m[1], m[1] + len(m))::INTEGER[] AS consecutive FROM x"
    ),
    "regexp back-references and groups a pattern lacks": (
        "WITH x(name, pattern) AS (VALUES ('allReduceBase', 'all(Reduce)'), ('ab', 'b')) "
        "SELECT lower(regexp_replace(name, '([a-z])([A-Z])', '\\1_\\2', 'g')) AS snake, "
        "regexp_extract(name, pattern, 1) AS g1, regexp_extract(name, pattern, 3) AS g3 FROM x"
    ),
    "sorted distinct list, string_agg and decimal arithmetic": (
        "WITH x(g, r, n) AS (VALUES (1, 3, 'b'), (1, 1, 'a'), (1, 3, 'b'), (2, 2, 'c')) "
        "SELECT g, list(DISTINCT r ORDER BY r) AS ranks, "
        "string_agg(DISTINCT n, ' | ' ORDER BY n) AS names, "
        "round(100.0 * sum(r) / 7, 4) AS pct FROM x GROUP BY g"
    ),
    "json_each over an array of objects, and text cast to a list": (
        'WITH x(doc_id, doc) AS (VALUES (1, \'[{"ranks": [0, 1]}, {"ranks": [2]}]\')) '
        "SELECT x.doc_id, len(TRY_CAST(g.value->'ranks' AS INTEGER[])) AS n "
        "FROM x, json_each(x.doc) g"
    ),
    "list_aggregate product of JSON dims": (
        "WITH x(d) AS (VALUES ('[[2, 3, 4], [5]]'::JSON)) "
        "SELECT TRY_CAST(list_aggregate(TRY_CAST(d->0 AS BIGINT[]), 'product') AS BIGINT) AS n "
        "FROM x"
    ),
}


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    plain = [tuple(list(v) if isinstance(v, tuple | list) else v for v in r) for r in rows]
    return sorted(plain, key=lambda r: tuple((v is None, str(v)) for v in r))


@pytest.mark.parametrize("query", list(QUERIES.values()), ids=list(QUERIES))
def test_rewrite_gives_duckdbs_rows_on_spark(query: str, spark_session: Any) -> None:
    want = _sorted(duckdb.sql(query).fetchall())
    got = _sorted([tuple(r) for r in spark_session.sql(to_spark(query)).collect()])
    assert got == want
    assert want


def test_asof_becomes_a_sweep_partitioned_by_the_keys() -> None:
    sql = to_spark(QUERIES["asof left join (null-safe and plain keys, a tie at t = 10)"])
    assert "ASOF JOIN" not in sql.upper()
    assert "LAST(__k, TRUE) OVER (PARTITION BY __key0, __key1, __key2 ORDER BY __t" in sql


def test_macros_are_inlined_and_views_are_temporary() -> None:
    catalog = Catalog(columns={"t": ["a", "op", "n"]})
    translate("CREATE OR REPLACE MACRO twice(x) AS 2 * x;", catalog)
    (view,) = translate(
        "CREATE OR REPLACE VIEW v AS SELECT * EXCLUDE (op), twice(n) AS m FROM t;", catalog
    )
    assert view.sql == "CREATE OR REPLACE TEMPORARY VIEW v AS SELECT a, n, (2 * (n)) AS m FROM t"
    assert catalog.columns["v"] == ["a", "n", "m"]


def test_materialized_ctes_of_inlined_table_macros_are_plain_ctes() -> None:
    """MATERIALIZED has no Spark syntax: a table macro's own CTEs lose it too when the
    macro is inlined into a view (as _event_labels_of's are into event_labels)."""
    catalog = Catalog(columns={"t": ["a"]})
    translate(
        "CREATE OR REPLACE MACRO m(tbl) AS TABLE "
        "WITH x AS MATERIALIZED (SELECT a FROM query_table(tbl)) SELECT a FROM x;",
        catalog,
    )
    (view,) = translate("CREATE OR REPLACE VIEW v AS SELECT * FROM m('t');", catalog)
    assert "MATERIALIZED" not in view.sql.upper()
    assert "WITH x AS (SELECT a FROM t)" in view.sql


def test_views_other_views_read_are_kept_and_the_dataset_is_not() -> None:
    """Spark would inline every nested view at each reference: the ones others read are
    computed once and kept (register_views), the dataset's tables and the asked-for view
    are not."""
    chosen = needed(["overlap_by_layer"])
    kept = kept_views(chosen)
    assert {"event_labels", "_lane_segments", "_overlap_parts", "comm_ops"} <= kept
    assert not kept & {"events", "traces", "runs", "overlap_by_layer"}
