"""The SQL that turns a piece of a Kineto ``traceEvents`` array into typed rows.

Each piece is read once into the temp table ``_c`` (:data:`READ_SQL`, checking
every field's type as it reads); ``COUNT_SQL`` gives the entries read, the first
bad one and the counts of questionable data; ``EVENT_SQL`` makes the rows of
``events`` (the temp table ``_e``, measured by ``SPAN_SQL``) and ``THREAD_SQL``
gives those of ``threads``. Used by :mod:`tracekit.ingest.kineto_parse`.
"""

from __future__ import annotations

import orjson

KIND_SQL = """
CASE
    WHEN ph IN ('i', 'I') THEN 'instant'
    WHEN lower(cat) IN ('cpu_op', 'operator') THEN 'cpu_op'
    WHEN lower(cat) = 'user_annotation' THEN 'user_annotation'
    WHEN lower(cat) IN ('python_function', 'python') THEN 'python_function'
    WHEN lower(cat) IN ('cuda_runtime', 'runtime') THEN 'cuda_runtime'
    WHEN lower(cat) = 'cuda_driver' THEN 'cuda_driver'
    WHEN lower(cat) IN ('kernel', 'gpu_kernel') THEN 'kernel'
    WHEN lower(cat) IN ('gpu_memcpy', 'memcpy') THEN 'gpu_memcpy'
    WHEN lower(cat) IN ('gpu_memset', 'memset') THEN 'gpu_memset'
    WHEN lower(cat) = 'gpu_user_annotation' THEN 'gpu_user_annotation'
    ELSE 'other'
END"""

_TYPED_ARGS = [
    "External id",
    "correlation",
    "device",
    "stream",
    "Collective name",
    "In msg nelems",
    "Out msg nelems",
    "dtype",
    "Group size",
    "Process Group Name",
    "Process Group Description",
    "Process Group Ranks",
    "Seq",
    "Sequence number",
    "Input Dims",
    "bytes",
]
_DROP_TYPED = orjson.dumps({k: None for k in _TYPED_ARGS}).decode()
# The args residual is json_merge_patch(coalesce(args, '{}'), _DROP_TYPED): no args
# give '{}', hence NULL. Not `CASE WHEN args IS NOT NULL THEN json_merge_patch(...)`,
# which costs twice as much (about 2 CPU s per GB), and not json_merge_patch(NULL, ...),
# which returns the patch itself.

# The largest `args` of one event: beyond about 20 MB the parser's JSON functions need
# more than PARSER_MEMORY (tracekit's own limit; profilers write a few kB).
MAX_ARGS_BYTES = 16 << 20
_TEXT_FIELDS = ("ph", "cat", "name")
# What a text field read as VARCHAR holds when the JSON value was not text (or may not
# have been): then the piece is read again with the exact check (RECHECK).
_NOT_TEXT_WORDS = "('true', 'false', 'NaN', 'Infinity')"
RECHECK = "?"
# The typed args are pulled out of `args` by one json_transform (one parse of the
# args text per event, not one per key).
_ARG_FIELDS = {k: "VARCHAR" for k in _TYPED_ARGS} | {"Input Dims": "JSON", "Input type": "JSON"}
_ARG_STRUCT = orjson.dumps(_ARG_FIELDS).decode()
_GPU_KINDS = "('kernel', 'gpu_memcpy', 'gpu_memset', 'gpu_user_annotation')"


def _read_sql(exact: bool) -> str:
    """The SQL that reads a piece once into the temp table `_c`; events, threads and
    counts are then taken from it. `ord` is the position of the event in the piece
    (the reader adds the piece's first id).

    `bad` says what is wrong with an event whose field has the wrong type or range
    (NULL when nothing is): numbers, text and objects are told apart by the first
    character of their JSON. `ts`, `dur`, `pid`, `tid` and `args` are read as JSON
    and checked. Unquoting `ph`, `cat` and `name` from JSON costs a tenth of the
    parse, so they are read as VARCHAR, which turns a number or an object into its
    JSON text; where a value could be such text (`5`, `{...}`, `[memory]`), `bad` is
    RECHECK and the piece is read again with ``exact``: as JSON, checked, unquoted.
    """
    kind = "JSON" if exact else "VARCHAR"
    columns = ", ".join(
        f"{c}: '{kind if c in _TEXT_FIELDS else 'JSON'}'"
        for c in ("ph", "cat", "name", "pid", "tid", "ts", "dur", "args")
    )
    if exact:
        text = ", ".join(f"{c}->>'$' AS {c}" for c in _TEXT_FIELDS)
        checks = [
            f"WHEN NOT starts_with({c}::VARCHAR, '\"')\n"
            f"               THEN '`{c}` is ' || left({c}, 40) || ', not a string'"
            for c in _TEXT_FIELDS
        ]
    else:
        text = ", ".join(_TEXT_FIELDS)
        checks = [
            f"WHEN {c} BETWEEN '-' AND ':' OR starts_with({c}, '{{') OR starts_with({c}, '[')\n"
            f"               OR {c} IN {_NOT_TEXT_WORDS} THEN '{RECHECK}'"
            for c in _TEXT_FIELDS
        ]
    checks_sql = "\n           ".join(checks)
    # A JSON number starts with '-' or a digit: text from '-' to ':' (JSON has no
    # values starting with '.' or '/'); -Infinity and numbers beyond DECIMAL(22,3)
    # fail the cast.
    return f"""
CREATE OR REPLACE TEMP TABLE _c AS
SELECT ord, {text}, pid, tid, ts_us AS ts, dur_us AS dur, args,
       CASE
           WHEN ts::VARCHAR NOT BETWEEN '-' AND ':'
               THEN '`ts` is ' || left(ts, 40) || ', not a number'
           WHEN dur::VARCHAR NOT BETWEEN '-' AND ':'
               THEN '`dur` is ' || left(dur, 40) || ', not a number'
           WHEN ts_us IS NULL AND ts IS NOT NULL
               THEN '`ts` ' || left(ts, 40) || ' is out of range (more than 10^19 µs)'
           WHEN dur_us IS NULL AND dur IS NOT NULL
               THEN '`dur` ' || left(dur, 40) || ' is out of range (more than 10^19 µs)'
           {checks_sql}
           WHEN starts_with(pid::VARCHAR, '{{') OR starts_with(pid::VARCHAR, '[')
               OR pid::VARCHAR IN ('true', 'false')
               THEN '`pid` is ' || left(pid, 40) || ', not a number or a string'
           WHEN starts_with(tid::VARCHAR, '{{') OR starts_with(tid::VARCHAR, '[')
               OR tid::VARCHAR IN ('true', 'false')
               THEN '`tid` is ' || left(tid, 40) || ', not a number or a string'
           WHEN NOT starts_with(args::VARCHAR, '{{')
               THEN '`args` is ' || left(args, 40) || ', not an object'
           WHEN strlen(args::VARCHAR) > {MAX_ARGS_BYTES}
               THEN '`args` holds ' || strlen(args::VARCHAR) // 1048576
               || ' MB, more than tracekit reads per event (16 MB)'
       END AS bad
FROM (
    SELECT row_number() OVER () - 1 AS ord, *,
           TRY_CAST(ts AS DECIMAL(22,3)) AS ts_us, TRY_CAST(dur AS DECIMAL(22,3)) AS dur_us
    FROM read_json($path, format = 'array', columns = {{{columns}}},
                   maximum_object_size = $max_object)
)
"""


READ_SQL = _read_sql(exact=False)
EXACT_READ_SQL = _read_sql(exact=True)

# One row per timed event, into the temp table `_e`. `ts` and `dur` are DECIMAL(22,3)
# microseconds: times 1000 they are the exact ns; `abs_ns` = $base + ts in ns, and
# `dur_ns` (NULL or < 0: 0) are NULL only where they do not fit in a BIGINT
# (SPAN_SQL counts those). GPU events carry pid = device, tid = stream.
# `input_dims` and `args` stay JSON: the parsers export them as Arrow `arrow.json`
# columns (arrow_lossless_conversion), which DuckDB loads into the JSON columns of
# `events` as they are; plain strings would be parsed again there to check that
# they are JSON (about 0.4 CPU s per GB).
EVENT_SQL = f"""
CREATE OR REPLACE TEMP TABLE _e AS
WITH typed AS (
    SELECT ord, ph, cat, name, pid, tid, ts, dur, args, {KIND_SQL} AS kind,
           json_transform(args, '{_ARG_STRUCT}') AS a,
           TRY_CAST(dur * 1000 AS BIGINT) AS dur_ns
    FROM _c
    WHERE ph IN ('X', 'i', 'I') AND ts IS NOT NULL
)
SELECT
    ord AS event_id,
    kind,
    cat,
    name,
    TRY_CAST(ts * 1000 + $base::BIGINT AS BIGINT) AS abs_ns,
    CASE WHEN dur IS NULL THEN 0 WHEN dur_ns < 0 THEN 0 ELSE dur_ns END AS dur_ns,
    CASE WHEN kind IN {_GPU_KINDS} THEN NULL ELSE TRY_CAST(pid AS BIGINT) END AS pid,
    CASE WHEN kind IN {_GPU_KINDS} THEN NULL ELSE TRY_CAST(tid AS BIGINT) END AS tid,
    CASE WHEN kind IN {_GPU_KINDS}
         THEN coalesce(TRY_CAST(a."device" AS INTEGER), TRY_CAST(pid AS INTEGER))
    END AS device,
    CASE WHEN kind IN {_GPU_KINDS}
         THEN coalesce(TRY_CAST(a."stream" AS BIGINT), TRY_CAST(tid AS BIGINT))
    END AS stream,
    TRY_CAST(a."correlation" AS BIGINT) AS correlation,
    TRY_CAST(a."External id" AS BIGINT) AS external_id,
    a."Collective name" AS coll_name,
    TRY_CAST(a."In msg nelems" AS BIGINT) AS in_nelems,
    TRY_CAST(a."Out msg nelems" AS BIGINT) AS out_nelems,
    coalesce(a."dtype", CASE WHEN starts_with(name, 'gloo:')
                             THEN a."Input type"->>0 END) AS dtype,
    TRY_CAST(a."Group size" AS INTEGER) AS group_size,
    a."Process Group Name" AS pg_name,
    a."Process Group Description" AS pg_desc,
    a."Process Group Ranks" AS pg_ranks,
    TRY_CAST(coalesce(a."Seq", a."Sequence number") AS BIGINT) AS seq,
    a."Input Dims" AS input_dims,
    TRY_CAST(a."bytes" AS BIGINT) AS bytes,
    nullif(json_merge_patch(coalesce(args, '{{}}'), '{_DROP_TYPED}'), '{{}}') AS args
FROM typed
"""

# The rows of `_e`, their earliest and latest `abs_ns`, and how many times did not fit.
SPAN_SQL = """
SELECT count(*), min(abs_ns), max(abs_ns),
       count(*) FILTER (WHERE abs_ns IS NULL OR dur_ns IS NULL)
FROM _e
"""

THREAD_SQL = """
SELECT TRY_CAST(pid AS BIGINT) AS pid,
       CASE WHEN name = 'thread_name' THEN TRY_CAST(tid AS BIGINT) END AS tid,
       args->>'name' AS name
FROM _c
WHERE ph = 'M' AND name IN ('thread_name', 'process_name') AND args->>'name' IS NOT NULL
"""

# Entries read, the first bad one (see READ_SQL), and questionable data that is accepted.
COUNT_SQL = """
SELECT count(*),
       arg_min((ord, bad), ord) FILTER (WHERE bad IS NOT NULL),
       count(*) FILTER (WHERE ph IN ('X', 'i', 'I') AND ts IS NULL),
       count(*) FILTER (WHERE ph IN ('X', 'i', 'I') AND dur < 0)
FROM _c
"""
NO_TS = "events without `ts` (not stored)"
NEGATIVE_DUR = "events with a negative `dur` (stored with dur_ns 0)"
