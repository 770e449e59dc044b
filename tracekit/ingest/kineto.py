"""Stream a PyTorch-profiler (Kineto) Chrome-trace JSON file into Arrow batches.

A trace is never held as a tree of Python objects. The file (optionally
gzip) is read in blocks; the ``traceEvents`` array is cut into chunks of whole
events at ``}, {`` boundaries and each chunk is parsed by DuckDB's JSON reader
straight into typed columns (``EVENT_SQL``). A cut that lands inside a string
or a nested object cannot parse (its quotes or brackets do not balance), so a
chunk that fails to parse is retried with an earlier cut; only a file that is
really not JSON fails.

Metadata (everything outside ``traceEvents``: ``distributedInfo``,
``deviceProperties``, ``baseTimeNanoseconds``...) is parsed with orjson from
the text before and after the array.
"""

from __future__ import annotations

import gzip
import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson
import pyarrow as pa

from tracekit.errors import InputError

BLOCK_BYTES = 16 << 20
MAX_HEAD_BYTES = 64 << 20
_EVENTS_KEY = re.compile(rb'"traceEvents"\s*:\s*\[')
_BOUNDARY = re.compile(rb"\}\s*,\s*(?=\{)")

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

COLUMNS = (
    "{ph: 'VARCHAR', cat: 'VARCHAR', name: 'VARCHAR', pid: 'JSON', tid: 'JSON', "
    "ts: 'DECIMAL(22,3)', dur: 'DECIMAL(22,3)', args: 'JSON'}"
)

# One row per timed event. `abs_ns` is the source's absolute time in ns; the
# loader subtracts the run origin. GPU events carry pid = device, tid = stream.
EVENT_SQL = f"""
WITH raw AS (
    SELECT row_number() OVER () - 1 AS ord, * FROM read_json(
        $path, format = 'array', columns = {COLUMNS}, maximum_object_size = 1073741824)
), typed AS (
    SELECT ord, ph, cat, name, pid, tid, ts, dur, args, {KIND_SQL} AS kind FROM raw
    WHERE ph IN ('X', 'i', 'I') AND ts IS NOT NULL
)
SELECT
    $first_id + ord AS event_id,
    kind,
    cat,
    name,
    CAST(round(ts * 1000) AS BIGINT) + $base_ns AS abs_ns,
    greatest(CAST(round(coalesce(dur, 0) * 1000) AS BIGINT), 0) AS dur_ns,
    CASE WHEN kind IN ('kernel', 'gpu_memcpy', 'gpu_memset', 'gpu_user_annotation')
         THEN NULL ELSE TRY_CAST(pid AS BIGINT) END AS pid,
    CASE WHEN kind IN ('kernel', 'gpu_memcpy', 'gpu_memset', 'gpu_user_annotation')
         THEN NULL ELSE TRY_CAST(tid AS BIGINT) END AS tid,
    CASE WHEN kind IN ('kernel', 'gpu_memcpy', 'gpu_memset', 'gpu_user_annotation')
         THEN coalesce(TRY_CAST(args->>'device' AS INTEGER), TRY_CAST(pid AS INTEGER))
    END AS device,
    CASE WHEN kind IN ('kernel', 'gpu_memcpy', 'gpu_memset', 'gpu_user_annotation')
         THEN coalesce(TRY_CAST(args->>'stream' AS BIGINT), TRY_CAST(tid AS BIGINT))
    END AS stream,
    TRY_CAST(args->>'correlation' AS BIGINT) AS correlation,
    TRY_CAST(args->>'External id' AS BIGINT) AS external_id,
    args->>'Collective name' AS coll_name,
    TRY_CAST(args->>'In msg nelems' AS BIGINT) AS in_nelems,
    TRY_CAST(args->>'Out msg nelems' AS BIGINT) AS out_nelems,
    coalesce(args->>'dtype', CASE WHEN starts_with(name, 'gloo:')
                                  THEN args->'Input type'->>0 END) AS dtype,
    TRY_CAST(args->>'Group size' AS INTEGER) AS group_size,
    args->>'Process Group Name' AS pg_name,
    args->>'Process Group Description' AS pg_desc,
    args->>'Process Group Ranks' AS pg_ranks,
    TRY_CAST(coalesce(args->>'Seq', args->>'Sequence number') AS BIGINT) AS seq,
    args->'Input Dims' AS input_dims,
    TRY_CAST(args->>'bytes' AS BIGINT) AS bytes,
    CASE WHEN args IS NOT NULL THEN
        nullif(CAST(json_merge_patch(args, '{_DROP_TYPED}') AS VARCHAR), '{{}}')
    END AS args
FROM typed
"""

THREAD_SQL = f"""
SELECT TRY_CAST(pid AS BIGINT) AS pid,
       CASE WHEN name = 'thread_name' THEN TRY_CAST(tid AS BIGINT) END AS tid,
       args->>'name' AS name
FROM read_json($path, format = 'array', columns = {COLUMNS},
               maximum_object_size = 1073741824)
WHERE ph = 'M' AND name IN ('thread_name', 'process_name') AND args->>'name' IS NOT NULL
"""

COUNT_SQL = f"""
SELECT count(*) FROM read_json($path, format = 'array', columns = {COLUMNS},
                               maximum_object_size = 1073741824)
"""


@dataclass
class KinetoChunk:
    events: pa.Table
    threads: pa.Table


def open_bytes(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """Open a trace, un-gzipping by magic number; returns (readable, raw file)."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw), raw  # type: ignore[return-value]
    return raw, raw


def _read(fh: IO[bytes], n: int, path: Path) -> bytes:
    try:
        return fh.read(n)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise InputError(
            f"{path}: the file is truncated or not valid gzip ({exc})",
            "Re-copy the trace; a profiler killed while writing leaves a cut-off file.",
        ) from exc


class _ChunkParser:
    """Parses byte pieces ``{...}, {...}`` into Arrow tables through an in-memory DuckDB."""

    def __init__(self, base_ns: int) -> None:
        self.base_ns = base_ns
        self.con = duckdb.connect()
        self.con.execute("SET threads = 1")
        self.next_id = 0
        self.tmp = tempfile.NamedTemporaryFile(prefix="tracekit-", suffix=".json")

    def close(self) -> None:
        self.tmp.close()
        self.con.close()

    def parse(self, body: bytes) -> KinetoChunk | None:
        """Parse ``[body]``; None when the text is not a valid array of JSON values."""
        self.tmp.seek(0)
        self.tmp.truncate()
        self.tmp.write(b"[" + body + b"]")
        self.tmp.flush()
        params = {"path": self.tmp.name}
        try:
            count = self.con.sql(COUNT_SQL, params=params).fetchall()[0]
            events = self.con.sql(
                EVENT_SQL, params=params | {"first_id": self.next_id, "base_ns": self.base_ns}
            ).to_arrow_table()
            threads = self.con.sql(THREAD_SQL, params=params).to_arrow_table()
        except (duckdb.InvalidInputException, duckdb.ConversionException):
            return None
        self.next_id += count[0] if count else 0
        return KinetoChunk(events, threads)


def _meta_from(path: Path, text: bytes) -> dict[str, Any]:
    try:
        meta = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON around the traceEvents array ({exc})") from exc
    return meta


def _head_meta(path: Path, prefix: bytes) -> dict[str, Any]:
    """Parse the keys before ``"traceEvents": [`` as an object of their own."""
    text = prefix.rstrip()
    if text.endswith(b","):
        text = text[:-1]
    return _meta_from(path, text + b"}")


def _tail_meta(suffix: bytes) -> dict[str, Any] | None:
    """Parse the text after the array's ``]`` (``, "k": v }`` or ``}``); None if it is not that."""
    text = suffix.strip()
    if text == b"}":
        return {}
    if not text.startswith(b","):
        return None
    try:
        meta = orjson.loads(b"{" + text[1:])
    except orjson.JSONDecodeError:
        return None
    return meta if isinstance(meta, dict) else None


def read_kineto(
    path: Path,
    *,
    on_progress: Callable[[int], None] | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> tuple[dict[str, Any], Iterator[KinetoChunk]]:
    """Return the metadata before ``traceEvents`` and an iterator of parsed event chunks.

    Keys written after the array (``traceName``, ``baseTimeNanoseconds`` in newer
    PyTorch) are merged into the returned dict once the iterator is exhausted;
    ``_base_ns`` holds the time base used for ``abs_ns``. ``on_progress`` receives
    how far into the file (in bytes on disk) parsing has got, for progress bars.
    """
    fh, raw = open_bytes(path)
    try:
        head = _read(fh, 1 << 20, path)
        if not head.strip():
            raise InputError(f"{path}: the file is empty")
        match = _EVENTS_KEY.search(head)
        while match is None and len(head) < MAX_HEAD_BYTES:
            more = _read(fh, 1 << 20, path)
            if not more:
                break
            head += more
            match = _EVENTS_KEY.search(head)
        if match is None:
            _explain_no_events(path, head)
        meta = _head_meta(path, head[: match.start()])
        if not isinstance(meta, dict):
            raise InputError(f"{path}: the top level is not a JSON object")
    except BaseException:
        fh.close()
        raw.close()
        raise
    base = _base_ns(path, meta, head)
    meta["_base_ns"] = base
    return meta, _chunks(path, fh, raw, head[match.end() :], meta, on_progress, block_bytes)


def _base_ns(path: Path, meta: dict[str, Any], head: bytes) -> int:
    """The time base must be known before the first event is parsed.

    Newer PyTorch writes ``baseTimeNanoseconds`` after the array; we find it by
    reading the file's last bytes (cheap for plain files, one extra pass for gzip).
    """
    if "baseTimeNanoseconds" in meta:
        base = meta["baseTimeNanoseconds"]
    else:
        base = _base_from_tail(path)
    if base is None:
        return 0
    if not isinstance(base, int):
        raise InputError(f"{path}: baseTimeNanoseconds is not an integer ({base!r})")
    return base


_BASE_RE = re.compile(rb'"baseTimeNanoseconds"\s*:\s*(\d+)\s*[,}]')


def _base_from_tail(path: Path) -> int | None:
    fh, raw = open_bytes(path)
    with raw, fh:
        if isinstance(fh, gzip.GzipFile):
            tail = b""
            while block := _read(fh, BLOCK_BYTES, path):
                tail = (tail + block)[-4096:]
        else:
            size = path.stat().st_size
            fh.seek(max(0, size - 4096))
            tail = fh.read()
    found = _BASE_RE.findall(tail)
    return int(found[-1]) if found else None


def _explain_no_events(path: Path, head: bytes) -> None:
    try:
        doc = orjson.loads(head)
    except orjson.JSONDecodeError:
        raise InputError(
            f"{path}: not valid JSON",
            "Expected a PyTorch profiler trace (export_chrome_trace) or an nsys .sqlite export.",
        ) from None
    raise InputError(
        f"{path}: no `traceEvents` array — is this a PyTorch profiler trace?",
        f"The file is valid JSON (a {type(doc).__name__}) but has no traceEvents.",
    )


def _chunks(
    path: Path,
    fh: IO[bytes],
    raw: IO[bytes],
    buf: bytes,
    meta: dict[str, Any],
    on_progress: Callable[[int], None] | None,
    block_bytes: int,
) -> Iterator[KinetoChunk]:
    parser = _ChunkParser(meta["_base_ns"])
    try:
        while more := _read(fh, block_bytes, path):
            searched_from = max(0, len(buf) - 16)
            buf += more
            cuts = list(_BOUNDARY.finditer(buf, searched_from))
            for cut in reversed(cuts[-3:]):
                chunk = parser.parse(buf[: cut.start() + 1])
                if chunk is not None:
                    if on_progress:
                        on_progress(raw.tell())
                    buf = buf[cut.end() :]
                    yield chunk
                    break
            else:
                if len(buf) > 8 * block_bytes:
                    raise InputError(f"{path}: invalid JSON inside the traceEvents array")
        yield from _final(path, parser, buf, meta)
        if on_progress:
            on_progress(raw.tell())
    finally:
        parser.close()
        fh.close()
        raw.close()


def _final(
    path: Path, parser: _ChunkParser, buf: bytes, meta: dict[str, Any]
) -> Iterator[KinetoChunk]:
    """The last piece holds the array's end: find the ``]`` whose both sides parse."""
    end = buf.rfind(b"]")
    while end != -1:
        late = _tail_meta(buf[end + 1 :])
        if late is not None:
            body = buf[:end]
            if not body.strip():
                meta.update({k: v for k, v in late.items() if k not in meta})
                return
            chunk = parser.parse(body)
            if chunk is not None:
                meta.update({k: v for k, v in late.items() if k not in meta})
                yield chunk
                return
        end = buf.rfind(b"]", 0, end)
    raise InputError(
        f"{path}: the traceEvents array is not valid JSON or never ends (truncated file?)"
    )
