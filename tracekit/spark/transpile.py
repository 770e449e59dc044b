"""The DuckDB SQL of ``queries/`` as Spark SQL: sqlglot's transpiler plus the rewrites it
leaves to its user.

sqlglot translates most of the views' DuckDB (``->>``, ``FILTER``, ``arg_max``, ``//``,
``string_split``, ``::``). What Spark rejects or reads differently is rewritten here, each
rule on the syntax tree, tested in ``tests/spark/test_transpile.py``:

- DuckDB macros (``queries/macros``, ``_overlap_by_label``) are inlined at each call;
  ``COLUMNS(lambda c: c = 'x')`` becomes the column ``x``.
- ``* EXCLUDE (...)`` and ``* REPLACE (...)`` are expanded to columns (the sources' columns
  come from the CTEs and from the catalogue of tables and views already translated).
- ``ASOF [LEFT] JOIN k ON <keys> AND k.t <= p.t`` becomes a sweep: both sides in one
  sequence partitioned by the keys (``trace_id`` first: no cross-trace shuffle), ordered by
  time, each probe taking the last ``k`` row before it (``last(..., true)`` over a window).
- Several ``unnest`` of array literals in one SELECT (Spark allows one generator) become one
  ``inline`` of an array of structs.
- Functions: ``format_bytes``, ``list_position`` (NULL, not 0, when absent), 1-based list
  indexing, ``len`` of a list, ``list_aggregate(..., 'product')``, sorted
  ``list(DISTINCT x ORDER BY x)``, back-references in ``regexp_replace`` (``\\1`` -> ``$1``),
  ``regexp_extract`` of a group a pattern may lack ('' in DuckDB, an error in Spark),
  ``json_each``, decimal literals (DOUBLE arithmetic as in DuckDB, not DECIMAL),
  a correlated scalar subquery (Spark wants it aggregated), named windows extended by a
  frame, views as temporary views.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from tracekit.spark.errors import UnsupportedSQL
from tracekit.spark.portable import asof, merge_unnests

_READ = "duckdb"
_WRITE = "spark"


@dataclass
class Catalog:
    """What the translation of later statements needs from earlier ones."""

    columns: dict[str, list[str]] = field(default_factory=dict)
    scalar_macros: dict[str, tuple[list[str], exp.Expression]] = field(default_factory=dict)
    table_macros: dict[str, tuple[list[str], exp.Query]] = field(default_factory=dict)


@dataclass(frozen=True)
class View:
    """One translated view: its name, its ``CREATE TEMPORARY VIEW`` statement and the
    tables and views it reads."""

    name: str
    sql: str
    reads: frozenset[str] = frozenset()


def translate(text: str, catalog: Catalog) -> list[View]:
    """The views of one SQL file as Spark SQL; macros are remembered in ``catalog``."""
    views = []
    for statement in sqlglot.parse(text, read=_READ):
        if statement is None:
            continue
        if not isinstance(statement, exp.Create):
            raise UnsupportedSQL(f"not a CREATE statement: {statement.sql(_READ)[:60]}")
        kind = statement.args.get("kind", "").upper()
        if kind == "MACRO":
            _remember_macro(statement, catalog)
        elif kind == "VIEW":
            views.append(_view(statement, catalog))
        else:
            raise UnsupportedSQL(f"CREATE {kind} has no Spark form here")
    return views


def _remember_macro(create: exp.Create, catalog: Catalog) -> None:
    udf = create.this
    name = udf.this.name
    params = [p.name for p in udf.expressions]
    body = create.expression
    if isinstance(body, exp.Query):
        catalog.table_macros[name] = (params, body)
    else:
        catalog.scalar_macros[name] = (params, body)


def _view(create: exp.Create, catalog: Catalog) -> View:
    name = create.this.name
    query = rewrite(create.expression, catalog)
    catalog.columns[name] = _output_columns(query, {}, catalog)
    body = query.sql(dialect=_WRITE)
    ctes = {cte.alias for cte in query.find_all(exp.CTE)}
    reads = frozenset(t.name for t in query.find_all(exp.Table) if t.name and t.name not in ctes)
    return View(name, f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {body}", reads)


def rewrite(query: exp.Expression, catalog: Catalog) -> exp.Query:
    """``query`` (DuckDB) rewritten into what sqlglot generates as valid Spark SQL."""
    query = query.copy()
    for union in query.find_all(exp.Union):
        if union.args.get("by_name"):
            raise UnsupportedSQL("UNION BY NAME")
    query = _inline_macros(query, catalog)
    for cte in query.find_all(exp.CTE):  # the view's own and its table macros' CTEs
        cte.set("materialized", None)
    query = query.transform(_columns_lambda)
    query = _expand_stars(query, catalog)
    for select in list(query.find_all(exp.Select)):
        merge_unnests(select)
    for select in reversed(list(query.find_all(exp.Select))):
        if any(j.args.get("method", "").upper() == "ASOF" for j in select.args.get("joins") or []):
            asof(select)
    for select in list(query.find_all(exp.Select)):
        _inline_windows(select)
        _json_each(select)
    return _bottom_up(query, _function)


def _bottom_up(root: exp.Expression, fn) -> exp.Expression:
    """``fn`` applied to every node, children before their parent (a rewritten child is
    seen by the rewrite of its parent)."""
    for node in reversed(list(root.walk(bfs=False))):
        new = fn(node)
        if new is not node:
            if node is root:
                root = new
            else:
                node.replace(new)
    return root


# --- macros -------------------------------------------------------------------------


def _substitute(body: exp.Expression, params: list[str], args: list[exp.Expression]):
    values = dict(zip(params, args, strict=True))

    def put(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name in values:
            return exp.paren(values[node.name].copy(), copy=False)
        return node

    return body.copy().transform(put)


def _inline_macros(query: exp.Expression, catalog: Catalog) -> exp.Query:
    def inline(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous):
            call = node.this
            if call.name in catalog.table_macros:
                params, body = catalog.table_macros[call.name]
                sub = _substitute(body, params, call.expressions).transform(_query_table)
                sub = _inline_macros(sub, catalog)
                return exp.Subquery(
                    this=sub, alias=exp.TableAlias(this=exp.to_identifier(node.alias or call.name))
                )
        if isinstance(node, exp.Anonymous) and node.name in catalog.scalar_macros:
            params, body = catalog.scalar_macros[node.name]
            return exp.paren(_substitute(body, params, node.expressions), copy=False)
        return node

    before = None
    while before != query:
        before = query.copy()
        query = query.transform(inline)
    return query


def _query_table(node: exp.Expression) -> exp.Expression:
    """``query_table('name')`` (a table macro's argument) -> the table ``name``."""
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous):
        call = node.this
        if call.name.lower() == "query_table":
            inner = call.expressions[0]
            while isinstance(inner, exp.Paren):
                inner = inner.this
            return exp.to_table(inner.name)
    return node


def _columns_lambda(node: exp.Expression) -> exp.Expression:
    """``COLUMNS(lambda c: c = 'x')`` -> ``x``."""
    if isinstance(node, exp.Columns) and isinstance(node.this, exp.Lambda):
        test = node.this.this
        if isinstance(test, exp.EQ):
            for side in (test.expression.unnest(), test.this.unnest()):
                if isinstance(side, exp.Literal) and side.is_string:
                    return exp.column(side.name)
        raise UnsupportedSQL(f"COLUMNS({node.this.sql(_READ)})")
    return node


# --- star expansion -----------------------------------------------------------------


def _star_of(projection: exp.Expression) -> tuple[exp.Star, str | None] | None:
    if isinstance(projection, exp.Star):
        return projection, None
    if isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
        return projection.this, projection.table or None
    return None


def _ctes_in_scope(node: exp.Expression) -> dict[str, exp.Query]:
    scope: dict[str, exp.Query] = {}
    for ancestor in reversed(list(_ancestors(node))):
        with_ = ancestor.args.get("with_") if isinstance(ancestor, exp.Query) else None
        if with_ is not None:
            scope.update({cte.alias: cte.this for cte in with_.expressions})
    return scope


def _ancestors(node: exp.Expression) -> Iterable[exp.Expression]:
    while node is not None:
        yield node
        node = node.parent


def _sources(select: exp.Select) -> list[tuple[exp.Expression, list[str]]]:
    """The FROM and JOIN items of ``select`` with the USING columns each repeats."""
    from_ = select.args.get("from_")
    items = [(from_.this, [])] if from_ is not None else []
    for join in select.args.get("joins") or []:
        items.append((join.this, [u.name for u in join.args.get("using") or []]))
    return items


def _source_columns(src: exp.Expression, ctes: dict[str, exp.Query], catalog: Catalog):
    if isinstance(src, exp.Subquery):
        return _output_columns(src.this, ctes, catalog)
    if isinstance(src, exp.Table):
        if src.name in ctes:
            return _output_columns(ctes[src.name], ctes, catalog)
        if src.name in catalog.columns:
            return catalog.columns[src.name]
    raise UnsupportedSQL(f"cannot list the columns of {src.sql(_READ)[:60]}")


def _star_columns(select: exp.Select, table: str | None, ctes, catalog: Catalog) -> list[str]:
    names: list[str] = []
    for src, using in _sources(select):
        if table is not None and src.alias_or_name != table:
            continue
        names += [c for c in _source_columns(src, ctes, catalog) if table or c not in using]
    return names


def _output_columns(query: exp.Expression, ctes: dict[str, exp.Query], catalog: Catalog):
    scope = {**ctes, **{cte.alias: cte.this for cte in query.ctes}}
    if isinstance(query, exp.SetOperation):
        return _output_columns(query.left, scope, catalog)
    if isinstance(query, exp.Subquery):
        return _output_columns(query.this, scope, catalog)
    names: list[str] = []
    for projection in query.expressions:
        star = _star_of(projection)
        if star is None:
            names.append(projection.alias_or_name)
            continue
        excluded = {c.name for c in star[0].args.get("except_") or []}
        names += [c for c in _star_columns(query, star[1], scope, catalog) if c not in excluded]
    return names


def _expand_stars(query: exp.Query, catalog: Catalog) -> exp.Query:
    for select in list(query.find_all(exp.Select)):
        projections = []
        changed = False
        for projection in select.expressions:
            star = _star_of(projection)
            if star is None or not (star[0].args.get("except_") or star[0].args.get("replace")):
                projections.append(projection)
                continue
            changed = True
            node, table = star
            excluded = {c.name for c in node.args.get("except_") or []}
            replaced = {a.alias: a for a in node.args.get("replace") or []}
            names = _star_columns(select, table, _ctes_in_scope(select), catalog)
            for name in names:
                if name in excluded:
                    continue
                projections.append(
                    replaced[name].copy() if name in replaced else exp.column(name, table=table)
                )
        if changed:
            select.set("expressions", projections)
    return query


def _json_each(select: exp.Select) -> None:
    """``FROM x, json_each(x.j) AS g`` -> ``LATERAL VIEW explode(<elements of j>) g AS value``
    (the values of an array, or of an object, as JSON text, like json_each's ``value``)."""
    joins = select.args.get("joins") or []
    for join in list(joins):
        table = join.this
        if not (isinstance(table, exp.Table) and isinstance(table.this, exp.Anonymous)):
            continue
        if table.this.name.lower() != "json_each":
            continue
        doc = table.this.expressions[0]
        elements = sqlglot.parse_one(
            "explode(coalesce(from_json(d, 'array<string>'), "
            "map_values(from_json(d, 'map<string,string>'))))",
            read=_WRITE,
        )
        elements = _fill(elements, d=doc)
        lateral = exp.Lateral(
            this=elements,
            view=True,
            alias=exp.TableAlias(
                this=exp.to_identifier(table.alias), columns=[exp.to_identifier("value")]
            ),
        )
        joins.remove(join)
        select.append("laterals", lateral)
    select.set("joins", joins or None)


# --- windows ------------------------------------------------------------------------


def _inline_windows(select: exp.Select) -> None:
    """``OVER (w ROWS ...)`` and ``OVER w`` -> the named window's spec written out."""
    named = {w.name: w for w in select.args.get("windows") or []}
    if not named:
        return
    for window in select.find_all(exp.Window):
        base = window.args.get("alias")
        if base is None or base.name not in named or window.parent_select is not select:
            continue
        spec = named[base.name]
        window.set("alias", None)
        window.set("partition_by", [e.copy() for e in spec.args.get("partition_by") or []])
        if spec.args.get("order") is not None:
            window.set("order", spec.args["order"].copy())
    select.set("windows", None)


# --- functions ----------------------------------------------------------------------

_FORMAT_BYTES = sqlglot.parse_one(
    "CASE WHEN b = 1 THEN '1 byte' WHEN abs(b) < 1024 THEN concat(CAST(b AS STRING), ' bytes') "
    "WHEN abs(b) < 1048576 THEN concat(CAST(round(b / 1024.0, 1) AS STRING), ' KiB') "
    "WHEN abs(b) < 1073741824 THEN concat(CAST(round(b / 1048576.0, 1) AS STRING), ' MiB') "
    "WHEN abs(b) < 1099511627776 "
    "THEN concat(CAST(round(b / 1073741824.0, 1) AS STRING), ' GiB') "
    "ELSE concat(CAST(round(b / 1099511627776.0, 1) AS STRING), ' TiB') END",
    read=_WRITE,
)


_PRODUCT = sqlglot.parse_one(
    "CASE WHEN size(a) > 0 THEN aggregate(a, CAST(1 AS BIGINT), (acc, x) -> acc * x) END",
    read=_WRITE,
)


def _fill(template: exp.Expression, **args: exp.Expression) -> exp.Expression:
    def put(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name in args:
            return exp.paren(args[node.name].copy(), copy=False)
        return node

    return template.copy().transform(put)


def _call(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _function(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.JSON):
        return exp.cast(node.this, "STRING")
    if isinstance(node, exp.TryCast) and node.to.is_type(exp.DataType.Type.ARRAY):
        if isinstance(node.this, exp.Column):  # text such as '[0, 1]' (DuckDB casts it)
            return exp.func("from_json", node.this, exp.Literal.string(node.to.sql(_WRITE)))
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name == "format_bytes":
            return exp.paren(_fill(_FORMAT_BYTES, b=node.expressions[0]), copy=False)
        if name == "list_position":
            return exp.Nullif(
                this=_call("array_position", *node.expressions), expression=exp.Literal.number(0)
            )
        if name == "list_aggregate" and node.expressions[1].name == "product":
            return exp.paren(_fill(_PRODUCT, a=node.expressions[0]), copy=False)
    if isinstance(node, exp.Length):
        return _call("size", node.this)
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        index = node.expressions[0]
        if isinstance(index, exp.Slice):
            if index.expression is not None:
                raise UnsupportedSQL(f"slice {node.sql(_READ)}")
            return exp.Substring(this=node.this, start=index.this)
        return _call("try_element_at", node.this, exp.cast(_one_based(index), "INT"))
    if isinstance(node, exp.ArrayAgg | exp.GroupConcat) and isinstance(node.this, exp.Order):
        inner = node.this.this
        ordered = node.this.expressions
        if not (isinstance(inner, exp.Distinct) and ordered[0].this == inner.expressions[0]):
            raise UnsupportedSQL(f"ordered aggregate {node.sql(_READ)}")
        values = _call("array_sort", _call("collect_set", inner.expressions[0]))
        if isinstance(node, exp.GroupConcat):
            return _call("array_join", values, node.args["separator"])
        return values
    if isinstance(node, exp.RegexpReplace) and isinstance(
        node.args.get("replacement"), exp.Literal
    ):
        fixed = re.sub(r"\\(\d)", r"$\1", node.args["replacement"].name)
        node.set("replacement", exp.Literal.string(fixed))
        node.set("modifiers", None)
    if isinstance(node, exp.RegexpExtract) and not isinstance(node.expression, exp.Literal):
        padded = exp.func(
            "concat",
            exp.Literal.string("(?:"),
            node.expression,
            exp.Literal.string(")()()()()()()()()()"),
        )
        node.set("expression", padded)
        if node.args.get("group") is None:
            node.set("group", exp.Literal.number(1))
    if isinstance(node, exp.Literal) and node.is_number and "." in node.name:
        return exp.cast(node, "DOUBLE")
    if isinstance(node, exp.Subquery) and _is_scalar(node):
        query = node.this
        only = query.expressions[0]
        name = only.alias_or_name
        value = only.this if isinstance(only, exp.Alias) else only
        query.set("expressions", [exp.alias_(exp.Max(this=value.copy()), name)])
    return node


def _one_based(index: exp.Expression) -> exp.Expression:
    """DuckDB's list index as written: sqlglot shifts a literal index to 0-based when it
    reads DuckDB (``m[1]`` -> 0, ``m[-1]`` -> -2) but leaves any other expression as is."""
    value = index.this if isinstance(index, exp.Neg) else index
    if isinstance(value, exp.Literal) and value.is_int:
        number = int(value.name) * (-1 if isinstance(index, exp.Neg) else 1) + 1
        return exp.Literal.number(number)
    return index


def _is_scalar(node: exp.Subquery) -> bool:
    query = node.this
    if not isinstance(query, exp.Select) or len(query.expressions) != 1:
        return False
    if isinstance(node.parent, exp.From | exp.Join | exp.In | exp.Exists | exp.Lateral):
        return False
    if node.args.get("alias") is not None or query.args.get("group"):
        return False
    return not any(query.expressions[0].find_all(exp.AggFunc))


def to_spark(query: str, catalog: Catalog | None = None) -> str:
    """One DuckDB query as Spark SQL (the rewrites of ``rewrite``)."""
    return rewrite(sqlglot.parse_one(query, read=_READ), catalog or Catalog()).sql(dialect=_WRITE)
