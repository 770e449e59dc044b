"""Headless queries behind `tracekit tui`: SQL strings and functions returning rows.

Every function takes a DuckDB connection or cursor (the TUI passes a fresh
cursor per worker thread) and keyword arguments, and returns :class:`Rows`.
Lists are capped in SQL and fetch ``limit + 1`` rows, so a caller can say
"500 of >500" without counting; nothing here loads a whole table. Views that
other parts of tracekit add (``overlap_by_layer``, ``collective_instances``
...) may be absent from an older database: those functions return
``Rows.missing`` instead of failing. No Textual import here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from tracekit import store
from tracekit.errors import InputError, TracekitError


@dataclass(frozen=True)
class Rows:
    """A result: column names, rows, whether more rows exist, or a missing view."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    more: bool = False
    missing: str | None = None

    @classmethod
    def missing_view(cls, name: str) -> Rows:
        return cls([], [], missing=name)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _fetch(con: Any, sql: str, params: dict[str, Any] | list[Any], limit: int) -> Rows:
    cur = con.execute(sql, params)
    columns = [d[0] for d in cur.description]
    rows = cur.fetchmany(limit + 1)
    return Rows(columns, rows[:limit], more=len(rows) > limit)


# --- the database -------------------------------------------------------------------------


def open_database(path: Path) -> duckdb.DuckDBPyConnection:
    """Open ``path`` read-only and check it is a tracekit database holding runs."""
    con = store.connect(path, read_only=True)
    try:
        if not store.is_initialised(con):
            raise InputError(
                f"{path}: not a tracekit database (no tracekit_meta table)",
                "Make one with `tracekit import TRACES... --db FILE`.",
            )
        row = con.execute("SELECT count(*) FROM runs").fetchone()
        if not row or not row[0]:
            raise InputError(
                f"{path}: the database holds no runs",
                "Import traces first: `tracekit import TRACES... --db FILE`.",
            )
    except duckdb.Error as exc:
        con.close()
        raise InputError(f"{path}: cannot read the database ({exc})") from exc
    except TracekitError:
        con.close()
        raise
    return con


def has_view(con: Any, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT internal", [name]
    ).fetchone()
    return bool(row and row[0])


# --- runs and ranks -----------------------------------------------------------------------

RUNS_SQL = """
SELECT r.run_id, r.world_size, r.tp, r.pp,
       count(t.trace_id) AS traces, count(DISTINCT t.rank) AS ranks,
       sum(t.event_count) AS events, list_sort(list_distinct(list(t.format))) AS formats
FROM runs r LEFT JOIN traces t USING (run_id)
GROUP BY ALL ORDER BY r.run_id
"""


def runs(con: Any, *, limit: int = 1000) -> Rows:
    """One row per run: layout, traces, ranks, events."""
    return _fetch(con, RUNS_SQL, [], limit)


RANKS_SQL = """
SELECT rank, lane, span_ns, comm_ns, compute_ns, overlap_ns, exposed_comm_ns,
       greatest(span_ns - (comm_ns + compute_ns - overlap_ns), 0) AS idle_ns, overlap_pct
FROM overlap_by_rank WHERE run_id = $run
ORDER BY rank, lane
"""

# With `temporal_breakdown`, idle time leaves out memory transfers, shown on their own.
RANKS_WITH_MEMORY_SQL = """
SELECT o.rank, o.lane, o.span_ns, o.comm_ns, o.compute_ns, o.overlap_ns, o.exposed_comm_ns,
       t.memory_ns, t.idle_ns, o.overlap_pct
FROM overlap_by_rank o
LEFT JOIN temporal_breakdown t
  ON t.run_id = o.run_id AND t.rank = o.rank AND t.lane = o.lane
WHERE o.run_id = $run
ORDER BY o.rank, o.lane
"""


def ranks(con: Any, *, run_id: str, limit: int = 4096) -> Rows:
    """Per rank and lane: communication, compute, overlap, exposed comm and idle time.

    ``idle_ns`` is the span less the union of communication and compute (and, where the
    database has ``temporal_breakdown``, less memory transfers, given as ``memory_ns``).
    """
    sql = RANKS_WITH_MEMORY_SQL if has_view(con, "temporal_breakdown") else RANKS_SQL
    return _fetch(con, sql, {"run": run_id}, limit)


# --- collectives --------------------------------------------------------------------------

_SIZE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_TERM = re.compile(r"^(op|rank|layer|lane|bytes|name)(>=|<=|=|>|<|~)(.+)$")


@dataclass(frozen=True)
class CollectiveFilter:
    """Filters of the collectives list; ``parse`` reads ``op=all_reduce rank=0,1 bytes>=1M``."""

    ops: tuple[str, ...] = ()
    ranks: tuple[int, ...] = ()
    layers: tuple[int, ...] = ()
    lane: str | None = None
    name: str | None = None
    bytes_min: int | None = None
    bytes_max: int | None = None

    @classmethod
    def parse(cls, text: str) -> CollectiveFilter:
        found: dict[str, Any] = {}
        for term in text.split():
            match = _TERM.match(term.lower() if not term.startswith("name") else term)
            if not match:
                raise InputError(
                    f"filter {term!r}: expected KEY=VALUE",
                    "Keys: op=, rank=, layer=, lane=, name~, bytes>= / bytes<= (e.g. 1M).",
                )
            key, cmp, value = match.groups()
            try:
                if key in ("rank", "layer") and cmp == "=":
                    found[key + "s"] = tuple(int(v) for v in value.split(","))
                elif key == "op" and cmp == "=":
                    found["ops"] = tuple(value.split(","))
                elif key == "lane" and cmp == "=":
                    found["lane"] = value
                elif key == "name" and cmp in ("=", "~"):
                    found["name"] = value
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


def _parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmg]?)i?b?", text.lower())
    if not m:
        raise ValueError(text)
    return int(float(m.group(1)) * _SIZE[m.group(2)])


COLLECTIVE_COLUMNS = (
    "rank",
    "op",
    "layer",
    "msg_bytes",
    "dur_ns",
    "ts_ns",
    "lane",
    "pg_name",
    "call_index",
    "name",
)

# An op's layer. With the `event_labels` view (the attribution every analysis uses), its
# label; in a database without it, the innermost `tk:layer=N` annotation of the op's trace
# that encloses the op (kernels: encloses the runtime call that launched it).
_LAYER_FROM_LABELS = """
labelled AS (
    SELECT c.*, l.layer
    FROM comm_ops c
    LEFT JOIN event_labels l ON l.trace_id = c.trace_id AND l.event_id = c.event_id
    WHERE c.run_id = $run
)"""

_LAYER_FROM_ANNOTATIONS = """
ops AS (
    SELECT c.*, coalesce(l.launch_ns, c.ts_ns) AS at_ns
    FROM comm_ops c
    LEFT JOIN (
        SELECT k.trace_id, k.event_id, min(l.ts_ns) AS launch_ns
        FROM events k JOIN events l
          ON l.trace_id = k.trace_id AND l.correlation = k.correlation
         AND l.kind IN ('cuda_runtime', 'cuda_driver')
        WHERE k.kind = 'kernel'
          AND k.trace_id IN (SELECT trace_id FROM traces WHERE run_id = $run)
        GROUP BY ALL
    ) l ON c.kind = 'kernel' AND l.trace_id = c.trace_id AND l.event_id = c.event_id
    WHERE c.run_id = $run
), layers AS (
    SELECT trace_id, ts_ns, ts_ns + dur_ns AS end_ns,
           TRY_CAST(regexp_extract(name, 'layer=(\\d+)', 1) AS INTEGER) AS layer
    FROM events
    WHERE kind = 'user_annotation' AND name LIKE 'tk:%layer=%'
      AND trace_id IN (SELECT trace_id FROM traces WHERE run_id = $run)
), labelled AS (
    SELECT o.*, (SELECT arg_max(y.layer, y.ts_ns) FROM layers y
                 WHERE y.trace_id = o.trace_id AND y.ts_ns <= o.at_ns
                   AND o.at_ns < y.end_ns) AS layer
    FROM ops o
)"""

COLLECTIVES_SQL = """
WITH {labelled}
SELECT rank, op, layer, msg_bytes, dur_ns, ts_ns, lane, pg_name, call_index, name,
       trace_id, event_id
FROM labelled
WHERE {where}
ORDER BY {order} NULLS LAST, rank, ts_ns, event_id
LIMIT $limit OFFSET $offset
"""


def collectives(
    con: Any,
    *,
    run_id: str,
    where: CollectiveFilter | None = None,
    sort: str = "ts_ns",
    descending: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> Rows:
    """One page of the run's communication ops, filtered and sorted in SQL."""
    if sort not in COLLECTIVE_COLUMNS:
        raise InputError(f"cannot sort by {sort!r}", f"Columns: {', '.join(COLLECTIVE_COLUMNS)}")
    flt = where or CollectiveFilter()
    terms = ["TRUE"]
    params: dict[str, Any] = {"run": run_id, "limit": limit + 1, "offset": offset}
    if flt.ops:
        terms.append("list_contains($ops, op)")
        params["ops"] = list(flt.ops)
    if flt.ranks:
        terms.append("list_contains($ranks, rank)")
        params["ranks"] = list(flt.ranks)
    if flt.layers:
        terms.append("list_contains($layers, layer)")
        params["layers"] = list(flt.layers)
    if flt.lane:
        terms.append("lane = $lane")
        params["lane"] = flt.lane
    if flt.name:
        terms.append("name ILIKE $name")
        params["name"] = f"%{flt.name}%"
    if flt.bytes_min is not None:
        terms.append("msg_bytes >= $bmin")
        params["bmin"] = flt.bytes_min
    if flt.bytes_max is not None:
        terms.append("msg_bytes <= $bmax")
        params["bmax"] = flt.bytes_max
    labelled = _LAYER_FROM_LABELS if has_view(con, "event_labels") else _LAYER_FROM_ANNOTATIONS
    sql = COLLECTIVES_SQL.format(
        labelled=labelled,
        where=" AND ".join(terms),
        order=f"{sort} {'DESC' if descending else 'ASC'}",
    )
    cur = con.execute(sql, params)
    columns = [d[0] for d in cur.description]
    rows = cur.fetchall()
    return Rows(columns, rows[:limit], more=len(rows) > limit)


# --- overlap by layer / stage / phase -----------------------------------------------------

OVERLAP_DIMENSIONS = ("layer", "stage", "phase")


def overlap_by(con: Any, *, run_id: str, dimension: str, limit: int = 2000) -> Rows:
    """Rows of ``overlap_by_<dimension>`` for the run, summed over ranks per label."""
    if dimension not in OVERLAP_DIMENSIONS:
        raise InputError(f"overlap by {dimension!r}: expected one of {OVERLAP_DIMENSIONS}")
    view = f"overlap_by_{dimension}"
    if not has_view(con, view):
        return Rows.missing_view(view)
    sql = f"""
    SELECT {dimension}, count(DISTINCT rank) AS ranks,
           sum(comm_ns) AS comm_ns, sum(compute_ns) AS compute_ns,
           sum(overlap_ns) AS overlap_ns, sum(exposed_comm_ns) AS exposed_comm_ns,
           round(100.0 * sum(overlap_ns) / nullif(sum(comm_ns), 0), 2) AS overlap_pct
    FROM {view} WHERE run_id = $run
    GROUP BY {dimension} ORDER BY {dimension} NULLS LAST
    """
    return _fetch(con, sql, {"run": run_id}, limit)


# --- collective instances across ranks ----------------------------------------------------

INSTANCES_SQL = """
SELECT op, pg, instance, ranks_seen, group_size, skew_ns, transfer_ns, msg_bytes
FROM collective_instances WHERE run_id = $run
ORDER BY (pg IS NOT DISTINCT FROM $pg AND op = $op AND instance = $instance) DESC,
         skew_ns DESC NULLS LAST, pg, op, instance
"""

INSTANCE_OF_SQL = """
SELECT pg, op, instance FROM collective_participants
WHERE run_id = $run AND trace_id = $trace AND event_id = $event
"""

PARTICIPANTS_SQL = """
SELECT rank, ts_ns, dur_ns, wait_ns, dur_ns - wait_ns AS transfer_ns
FROM collective_participants
WHERE run_id = $run AND pg IS NOT DISTINCT FROM $pg AND op = $op AND instance = $instance
ORDER BY rank
"""


def instances(
    con: Any,
    *,
    run_id: str,
    first: tuple[str | None, str, int] | None = None,
    limit: int = 500,
) -> Rows:
    """Collectives matched across ranks, worst arrival skew first (``first``, if given, on top)."""
    if not has_view(con, "collective_instances"):
        return Rows.missing_view("collective_instances")
    pg, op, instance = first or (None, None, None)
    params = {"run": run_id, "pg": pg, "op": op, "instance": instance}
    return _fetch(con, INSTANCES_SQL, params, limit)


def instance_of(
    con: Any, *, run_id: str, trace_id: int, event_id: int
) -> tuple[str | None, str, int] | None:
    """The collective instance (pg, op, instance) a communication op takes part in."""
    if not has_view(con, "collective_participants"):
        return None
    params = {"run": run_id, "trace": trace_id, "event": event_id}
    row = con.execute(INSTANCE_OF_SQL, params).fetchone()
    return (row[0], row[1], int(row[2])) if row else None


def participants(
    con: Any, *, run_id: str, pg: str | None, op: str, instance: int, limit: int = 4096
) -> Rows:
    """Each rank's arrival, wait and transfer for one collective instance."""
    if not has_view(con, "collective_participants"):
        return Rows.missing_view("collective_participants")
    params = {"run": run_id, "pg": pg, "op": op, "instance": instance}
    return _fetch(con, PARTICIPANTS_SQL, params, limit)


# --- timeline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """Busy time per (lane, class) and time bucket of one rank's window."""

    start_ns: int
    end_ns: int
    buckets: int
    lanes: list[tuple[str, str]] = field(default_factory=list)
    busy: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    @property
    def bucket_ns(self) -> int:
        return max(1, -(-(self.end_ns - self.start_ns) // self.buckets))


_WINDOW_EVENTS = """
WITH tr AS (SELECT trace_id FROM traces WHERE run_id = $run AND rank = $rank),
comm AS (
    SELECT trace_id, event_id, lane, ts_ns, end_ns FROM comm_ops
    WHERE run_id = $run AND rank = $rank AND ts_ns < $t1 AND end_ns > $t0
), ev AS (
    SELECT trace_id, event_id, lane, 'comm' AS cls, ts_ns, end_ns FROM comm
    UNION ALL
    SELECT e.trace_id, e.event_id,
           CASE WHEN e.device IS NOT NULL THEN 'gpu' || e.device || ':s' || e.stream
                ELSE 'cpu:' || e.tid END,
           'compute', e.ts_ns, e.ts_ns + e.dur_ns
    FROM events e
    WHERE e.trace_id IN (SELECT trace_id FROM tr) AND e.kind IN ('kernel', 'cpu_op')
      AND e.ts_ns < $t1 AND e.ts_ns + e.dur_ns > $t0
      AND NOT starts_with(e.name, 'c10d::') AND e.name <> 'record_param_comms'
      AND NOT EXISTS (SELECT 1 FROM comm c
                      WHERE c.trace_id = e.trace_id AND c.event_id = e.event_id)
)
"""

TIMELINE_SQL = (
    _WINDOW_EVENTS
    + """, clipped AS (
    SELECT lane, cls, greatest(ts_ns, $t0) AS s, least(end_ns, $t1) AS e FROM ev
), spread AS (
    SELECT lane, cls, s, e,
           unnest(range((s - $t0) // $w, greatest((e - 1 - $t0) // $w, (s - $t0) // $w) + 1))
               AS bucket
    FROM clipped
)
SELECT lane, cls, bucket,
       sum(greatest(least(e, $t0 + (bucket + 1) * $w) - greatest(s, $t0 + bucket * $w), 0))
           AS busy_ns
FROM spread GROUP BY ALL ORDER BY lane, cls, bucket
"""
)

EVENT_AT_SQL = (
    _WINDOW_EVENTS
    + """
SELECT e.trace_id, e.event_id, ev.lane, ev.cls, e.kind, e.name, e.ts_ns, e.dur_ns,
       e.coll_name, e.dtype, e.in_nelems, e.out_nelems, e.pg_name, e.seq, e.args
FROM ev JOIN events e USING (trace_id, event_id)
WHERE ev.lane = $lane AND ev.cls = $cls
ORDER BY e.dur_ns DESC LIMIT 1
"""
)


def rank_span(con: Any, *, run_id: str, rank: int) -> tuple[int, int] | None:
    """First start and last end of a rank's events, ns."""
    row = con.execute(
        "SELECT min(e.ts_ns), max(e.ts_ns + e.dur_ns) FROM events e JOIN traces t "
        "USING (trace_id) WHERE t.run_id = ? AND t.rank = ?",
        [run_id, rank],
    ).fetchone()
    if not row or row[0] is None:
        return None
    return int(row[0]), int(row[1])


def timeline(
    con: Any, *, run_id: str, rank: int, start_ns: int, end_ns: int, buckets: int
) -> Timeline:
    """Busy ns of each compute and communication lane of ``rank`` per bucket of the window."""
    tl = Timeline(start_ns, max(end_ns, start_ns + 1), max(buckets, 1))
    params = {"run": run_id, "rank": rank, "t0": tl.start_ns, "t1": tl.end_ns, "w": tl.bucket_ns}
    for lane, cls, bucket, busy in con.execute(TIMELINE_SQL, params).fetchall():
        key = (lane, cls)
        if key not in tl.busy:
            tl.lanes.append(key)
            tl.busy[key] = [0.0] * tl.buckets
        if 0 <= bucket < tl.buckets:
            tl.busy[key][bucket] = min(1.0, busy / tl.bucket_ns)
    tl.lanes.sort(key=lambda k: (k[1] != "compute", k[0]))
    return tl


def event_at(
    con: Any, *, run_id: str, rank: int, lane: str, cls: str, start_ns: int, end_ns: int
) -> dict[str, Any] | None:
    """The longest event of a lane that overlaps ``[start_ns, end_ns)``, with its args."""
    params = {"run": run_id, "rank": rank, "t0": start_ns, "t1": end_ns, "lane": lane, "cls": cls}
    result = _fetch(con, EVENT_AT_SQL, params, 1)
    return result.dicts()[0] if result.rows else None


# --- ad-hoc SQL ---------------------------------------------------------------------------


def run_sql(con: Any, text: str, *, limit: int = 1000) -> Rows:
    """Run one statement; the first ``limit`` rows and whether more exist.

    DuckDB errors propagate (the console shows them inline).
    """
    cur = con.execute(text)
    if cur.description is None:
        return Rows([], [])
    columns = [d[0] for d in cur.description]
    rows = cur.fetchmany(limit + 1)
    return Rows(columns, rows[:limit], more=len(rows) > limit)
