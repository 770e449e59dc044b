"""Spark forms of the two DuckDB constructs Spark has no syntax for: ASOF JOIN and several
generators (``unnest``) in one SELECT. Rewrites of sqlglot syntax trees, used by
:mod:`tracekit.spark.transpile`.
"""

from __future__ import annotations

from sqlglot import exp

from tracekit.spark.errors import UnsupportedSQL

_READ = "duckdb"
ASOF_K = "__asof_k"


# --- generators ---------------------------------------------------------------------


def merge_unnests(select: exp.Select) -> None:
    """``unnest([a, b]) AS x, unnest([c, d]) AS y`` -> ``inline(array(struct(a AS x, c AS y),
    struct(b AS x, d AS y)))``: one generator."""
    spots = [
        i
        for i, p in enumerate(select.expressions)
        if isinstance(p, exp.Alias) and isinstance(p.this, exp.Explode | exp.Unnest)
    ]
    if len(spots) < 2:
        return
    arrays = []
    for i in spots:
        arg = select.expressions[i].this.this
        if not isinstance(arg, exp.Array):
            raise UnsupportedSQL("several unnest() in one SELECT, not all of array literals")
        arrays.append((select.expressions[i].alias, arg.expressions))
    if len({len(values) for _, values in arrays}) != 1:
        raise UnsupportedSQL("several unnest() of arrays of different lengths")
    rows = [
        exp.Struct(expressions=[exp.alias_(values[k].copy(), name) for name, values in arrays])
        for k in range(len(arrays[0][1]))
    ]
    inline = exp.Anonymous(this="inline", expressions=[exp.Array(expressions=rows)])
    kept = [p for i, p in enumerate(select.expressions) if i not in spots[1:]]
    kept[spots[0]] = inline
    select.set("expressions", kept)


# --- ASOF ---------------------------------------------------------------------------


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    return [node]


def _side(node: exp.Expression, p: str, k: str) -> str:
    tables = {c.table for c in node.find_all(exp.Column)}
    if tables == {p}:
        return "p"
    if tables == {k}:
        return "k"
    raise UnsupportedSQL(f"ASOF condition {node.sql(_READ)} mixes or omits the two sides")


def asof(select: exp.Select) -> None:
    """Rewrite the one ASOF JOIN of ``select`` as a window sweep (see the module)."""
    joins = select.args["joins"]
    if len(joins) != 1:
        raise UnsupportedSQL("an ASOF JOIN together with other joins")
    join = joins[0]
    probe, build = select.args["from_"].this, join.this
    p, k = probe.alias_or_name, build.alias_or_name
    build_refs = [c for c in select.find_all(exp.Column) if c.table == k]
    keys: list[tuple[exp.Expression, exp.Expression, bool]] = []
    times: tuple[exp.Expression, exp.Expression] | None = None
    for cond in _conjuncts(join.args["on"]):
        sides = {_side(cond.this, p, k): cond.this, _side(cond.expression, p, k): cond.expression}
        if set(sides) != {"p", "k"}:
            raise UnsupportedSQL(f"ASOF condition {cond.sql(_READ)}")
        if isinstance(cond, exp.EQ | exp.NullSafeEQ):
            keys.append((sides["p"], sides["k"], isinstance(cond, exp.NullSafeEQ)))
        elif isinstance(cond, exp.LTE) and _side(cond.this, p, k) == "k":
            times = (sides["p"], sides["k"])
        elif isinstance(cond, exp.GTE) and _side(cond.this, p, k) == "p":
            times = (sides["p"], sides["k"])
        else:
            raise UnsupportedSQL(f"ASOF inequality {cond.sql(_READ)}: only k.t <= p.t")
    if times is None or not keys:
        raise UnsupportedSQL("ASOF JOIN without an equality key and k.t <= p.t")
    left = (join.args.get("side") or "").upper() == "LEFT"

    key_names = [f"__key{i}" for i in range(len(keys))]
    plain = [i for i, (_, _, null_safe) in enumerate(keys) if not null_safe]

    def part(side: int, src: exp.Expression, alias: str, when: int) -> exp.Select:
        row = exp.Struct(expressions=[exp.column(exp.Star(), table=alias)])
        cols = [exp.alias_(exp.Literal.number(side), "__side")]
        cols += [exp.alias_(keys[i][when].copy(), key_names[i]) for i in range(len(keys))]
        cols += [
            exp.alias_(times[when].copy(), "__t"),
            exp.alias_(row if side == 1 else exp.null(), "__p"),
            exp.alias_(row if side == 0 else exp.null(), "__k"),
        ]
        out = exp.select(*cols).from_(src.copy())
        if side == 0 and plain:
            out = out.where(exp.and_(*[keys[i][1].copy().is_(exp.null()).not_() for i in plain]))
        return out

    both = exp.union(part(1, probe, p, 0), part(0, build, k, 1), distinct=False)
    window = exp.Window(
        this=exp.Anonymous(this="last", expressions=[exp.column("__k"), exp.true()]),
        partition_by=[exp.column(n) for n in key_names],
        order=exp.Order(expressions=[exp.column("__t").asc(), exp.column("__side").asc()]),
        spec=exp.WindowSpec(
            kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"
        ),
    )
    found = exp.alias_(window, "__k")
    swept = exp.select("__side", "__p", *[exp.column(key_names[i]) for i in plain], found)
    swept = swept.from_(exp.Subquery(this=both, alias=exp.TableAlias(this="__both")))
    missing = [exp.column(key_names[i]).is_(exp.null()) for i in plain]
    matched = (
        exp.If(this=exp.or_(*missing), true=exp.null(), false=exp.column("__k"))
        if missing
        else exp.column("__k")
    )
    probes = exp.select(exp.column(exp.Star(), table="__p"), exp.alias_(matched, ASOF_K))
    probes = probes.from_(exp.Subquery(this=swept, alias=exp.TableAlias(this="__swept")))
    probes = probes.where(exp.column("__side").eq(1))
    if not left:
        probes = exp.select("*").from_(exp.Subquery(this=probes, alias="__probes"))
        probes = probes.where(exp.column(ASOF_K).is_(exp.null()).not_())
    select.set("joins", None)
    select.set("from_", exp.From(this=exp.Subquery(this=probes, alias=exp.TableAlias(this=p))))
    for column in build_refs:
        column.replace(exp.Dot(this=exp.column(ASOF_K), expression=column.this.copy()))
