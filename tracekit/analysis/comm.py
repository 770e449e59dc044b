"""Communication: per-op summary, the ops list, matched collective instances, skew."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb
from duckdb import ColumnExpression, ConstantExpression, Expression, FunctionExpression

from tracekit.analysis._query import Result, equal, is_, select
from tracekit.errors import InputError

TOP_ORDER = ("total_wait_ns", "max_dur_ns", "skew_ns", "transfer_ns")
OP_COLUMNS = (
    "rank",
    "op",
    "layer",
    "msg_bytes",
    "dur_ns",
    "ts_ns",
    "stream_lane",
    "pg_name",
    "call_index",
    "name",
)
"""The columns of :func:`comm_ops` a caller may sort by (then trace_id and event_id)."""


def comm_op_phases(con: duckdb.DuckDBPyConnection, *, run: str | None = None) -> Result:
    """Every communication call with its model op name, phase and group size
    (comm_op_phases: what validate compares with the model)."""
    return select(con, "comm_op_phases", where=equal(run_id=run))


def comm_summary(con: duckdb.DuckDBPyConnection, *, run: str | None = None) -> Result:
    """Count, time, bytes and bandwidth per rank, op and message-size bucket."""
    return select(con, "comm_summary", where=equal(run_id=run))


_SIZE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_TERM = re.compile(r"^([A-Za-z_]+)(>=|<=|=|>|<|~)(.+)$")
_KEYS = ("op", "rank", "layer", "stream_lane", "bytes", "name")
_KEYS_HINT = "Keys: op=, rank=, layer=, stream_lane=, name= / name~, bytes>= / bytes<= (e.g. 1M)."


def _parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmg]?)i?b?", text.lower())
    if not m:
        raise ValueError(text)
    return int(float(m.group(1)) * _SIZE[m.group(2)])


@dataclass(frozen=True)
class OpFilter:
    """Which communication ops to list: any of ``ops``/``ranks``/``layers``, one stream lane, a
    name (``name_exact``: the whole name, else a substring, case-insensitive; both literal,
    ``%`` and ``_`` are no wildcards), a message-size range in bytes (inclusive)."""

    ops: tuple[str, ...] = ()
    ranks: tuple[int, ...] = ()
    layers: tuple[int, ...] = ()
    stream_lane: str | None = None
    name: str | None = None
    name_exact: bool = False
    bytes_min: int | None = None
    bytes_max: int | None = None

    @classmethod
    def parse(cls, text: str) -> OpFilter:
        """Read ``op=all_reduce rank=0,1 layer=3 stream_lane=gpu0:s7 name~ring bytes>=1M``."""
        found: dict[str, Any] = {}
        for term in text.split():
            match = _TERM.match(term.lower() if not term.startswith("name") else term)
            if not match:
                raise InputError(f"filter {term!r}: expected KEY=VALUE", _KEYS_HINT)
            key, cmp, value = match.groups()
            if key not in _KEYS:
                raise InputError(f"filter {term!r}: unknown key {key}", _KEYS_HINT)
            try:
                if key in ("rank", "layer") and cmp == "=":
                    found[key + "s"] = tuple(int(v) for v in value.split(","))
                elif key == "op" and cmp == "=":
                    found["ops"] = tuple(value.split(","))
                elif key == "stream_lane" and cmp == "=":
                    found["stream_lane"] = value
                elif key == "name" and cmp in ("=", "~"):
                    found["name"], found["name_exact"] = value, cmp == "="
                elif key == "bytes" and cmp in (">=", ">", "<=", "<", "="):
                    size = _parse_size(value)
                    if cmp in (">=", ">", "="):
                        found["bytes_min"] = size + (cmp == ">")
                    if cmp in ("<=", "<", "="):
                        found["bytes_max"] = size - (cmp == "<")
                else:
                    raise ValueError(cmp)
            except ValueError as exc:
                raise InputError(f"filter {term!r}: cannot use {key}{cmp}{value}") from exc
        return cls(**found)

    def expression(self, run: str) -> Expression:
        col = ColumnExpression
        where = col("run_id") == ConstantExpression(run)
        for column, values in (("op", self.ops), ("rank", self.ranks), ("layer", self.layers)):
            if values:
                where = where & col(column).isin(*map(ConstantExpression, values))
        if self.stream_lane:
            where = where & (col("stream_lane") == ConstantExpression(self.stream_lane))
        if self.name and self.name_exact:
            where = where & (col("name") == ConstantExpression(self.name))
        elif self.name:
            lowered = FunctionExpression("lower", col("name"))
            needle = ConstantExpression(self.name.lower())
            where = where & FunctionExpression("contains", lowered, needle)
        if self.bytes_min is not None:
            where = where & (col("msg_bytes") >= ConstantExpression(self.bytes_min))
        if self.bytes_max is not None:
            where = where & (col("msg_bytes") <= ConstantExpression(self.bytes_max))
        return where


def comm_ops(
    con: duckdb.DuckDBPyConnection,
    *,
    run: str,
    where: OpFilter | None = None,
    sort: str = "ts_ns",
    descending: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> Result:
    """One page of the run's communication ops with their layer (comm_op_list)."""
    if sort not in OP_COLUMNS:
        raise InputError(f"cannot sort by {sort!r}", f"Columns: {', '.join(OP_COLUMNS)}")
    order = f"{sort} {'DESC' if descending else 'ASC'} NULLS LAST, rank, ts_ns, event_id"
    return select(
        con,
        "comm_op_list",
        where=(where or OpFilter()).expression(run),
        columns=[*OP_COLUMNS, "trace_id", "event_id"],
        order=order,
        limit=limit,
        offset=offset,
    )


def collective_instances(
    con: duckdb.DuckDBPyConnection,
    *,
    run: str | None = None,
    pg: str | None = None,
    op: str | None = None,
) -> Result:
    """Every collective matched across its group's ranks (skew, transfer, waits)."""
    result = select(con, "collective_instances", where=equal(run_id=run, pg=pg, op=op))
    return Result(result.frame.drop("ranks"))


def collective_participants(
    con: duckdb.DuckDBPyConnection, *, run: str | None = None, rank: int | None = None
) -> Result:
    """Each rank's part in each collective instance (arrival, wait, bubble)."""
    return select(con, "collective_participants", where=equal(run_id=run, rank=rank))


INSTANCES = [
    "op",
    "pg",
    "instance",
    "ranks_seen",
    "group_size",
    "skew_ns",
    "transfer_ns",
    "msg_bytes",
]


def instances_by_skew(
    con: duckdb.DuckDBPyConnection,
    *,
    run: str,
    first: tuple[str | None, str, int] | None = None,
    limit: int = 500,
) -> Result:
    """Collectives matched across ranks, worst arrival skew first; the instance ``first``
    (pg, op, instance), if given, on top."""
    chosen = None
    if first is not None:
        pg, op, instance = first
        chosen = is_("pg", pg) & equal(op=op, instance=instance)
    return select(
        con,
        "_instance_figures",  # collective_instances without its labels, which cost most
        where=equal(run_id=run),
        columns=INSTANCES,
        order="skew_ns DESC NULLS LAST, pg, op, instance",
        first=chosen,
        limit=limit,
    )


def instance_of(
    con: duckdb.DuckDBPyConnection, *, run: str, trace_id: int, event_id: int
) -> tuple[str | None, str, int] | None:
    """The collective instance (pg, op, instance) a communication op takes part in."""
    where = equal(run_id=run, trace_id=trace_id, event_id=event_id)
    rows = select(con, "_collective_parts", where=where, columns=["pg", "op", "instance"]).rows
    return (rows[0][0], rows[0][1], int(rows[0][2])) if rows else None


def participants(
    con: duckdb.DuckDBPyConnection, *, run: str, pg: str | None, op: str, instance: int
) -> Result:
    """Each rank's arrival, wait and transfer for one collective instance."""
    return select(
        con,
        "_collective_parts",  # collective_participants without its labels, which cost most
        where=equal(run_id=run, op=op, instance=instance) & is_("pg", pg),
        columns=["rank", "ts_ns", "dur_ns", "wait_ns", "transfer_ns"],
        order="rank",
    )


def top_collectives(
    con: duckdb.DuckDBPyConnection,
    *,
    run: str | None = None,
    n: int = 10,
    order_by: str = "total_wait_ns",
) -> Result:
    """The ``n`` instances with the largest ``order_by`` (one of TOP_ORDER)."""
    if order_by not in TOP_ORDER:
        order_by = "total_wait_ns"
    columns = [
        "run_id",
        "pg",
        "op",
        "instance",
        "ranks_seen",
        "group_size",
        "step",
        "phase",
        "layer",
        "block",
        "msg_bytes",
        "skew_ns",
        "last_rank",
        "transfer_ns",
        "max_dur_ns",
        "total_wait_ns",
        "bubble_ns",
        "busbw_gbps",
    ]
    return select(
        con,
        "collective_instances",
        where=equal(run_id=run),
        columns=columns,
        order=f"{order_by} DESC NULLS LAST, first_ts_ns",
        limit=n,
    )


def rank_skew(con: duckdb.DuckDBPyConnection, *, run: str | None = None) -> Result:
    """Per rank: how often it arrived last, how late it arrived and how long it waited."""
    return select(con, "rank_skew", where=equal(run_id=run))
