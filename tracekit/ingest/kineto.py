"""Stream a PyTorch-profiler (Kineto) Chrome-trace JSON file into Arrow batches.

A trace is never held as a tree of Python objects. The file (optionally
gzip) is read in blocks; the ``traceEvents`` array is cut into chunks of whole
events at ``}, {`` boundaries and each chunk is parsed by DuckDB's JSON reader
straight into typed columns (the SQL is in :mod:`tracekit.ingest.kineto_sql`).
A cut that lands inside a string or a nested object cannot parse (its quotes or
brackets do not balance), so a chunk that fails to parse is retried with an
earlier cut; only a file that is really not JSON fails.

Every field is checked as it is read, in the same SQL (``READ_SQL``): an event
whose ``ts``/``dur`` is not a number (or beyond DECIMAL(22,3) µs), whose
``ph``/``name``/``cat`` is not text, whose ``pid``/``tid`` is neither, whose
``args`` is not an object (or larger than ``MAX_ARGS_BYTES``), that repeats a key
or holds bytes that are not UTF-8, fails the import with an :class:`InputError`
naming its position in the array. Timed events without ``ts`` and negative
``dur`` are accepted and counted (``KinetoChunk.warnings``).

Metadata (everything outside ``traceEvents``: ``distributedInfo``,
``deviceProperties``, ``baseTimeNanoseconds``...) is parsed from the text
before and after the array by :mod:`tracekit.ingest.kineto_meta`.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
import threading
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# ISA-L inflates gzip about 3.5x faster than zlib (0.4 vs 1.5 CPU s per GB)
from isal import igzip
from isal.isal_zlib import error as IsalError

from tracekit import places
from tracekit.errors import InputError
from tracekit.ingest.kineto_meta import (
    checked_base,
    explain_no_events,
    head_meta,
    merge_tail,
    tail_meta,
)
from tracekit.ingest.kineto_sql import (
    COUNT_SQL,
    EVENT_SQL,
    EXACT_READ_SQL,
    NEGATIVE_DUR,
    NO_TS,
    READ_SQL,
    RECHECK,
    THREAD_SQL,
)
from tracekit.secrets import redact_array

BLOCK_BYTES = 16 << 20
# Memory each parser's in-memory DuckDB may use (a 16 MB piece needs far less).
PARSER_MEMORY = "512MB"
MAX_HEAD_BYTES = 64 << 20
_EVENTS_KEY = re.compile(rb'"traceEvents"\s*:\s*\[')
_BOUNDARY = re.compile(rb"\}\s*,\s*(?=\{)")


@dataclass
class KinetoChunk:
    """Parsed events and thread names of one piece of the array.

    ``count`` is how many entries of the array the piece holds; ``warnings`` counts
    the questionable data accepted in it (:data:`NO_TS`, :data:`NEGATIVE_DUR`).
    """

    events: pa.Table
    threads: pa.Table
    count: int = 0
    warnings: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class BadEvent:
    """A piece that is valid JSON but holds an event tracekit cannot take.

    ``entry`` is its position in the piece (None where the problem is the piece's).
    """

    entry: int | None
    problem: str


# "JSON transform error in file "x", in record/value 3: Object {...} has duplicate key "ts""
_RECORD = re.compile(r"in record/value (\d+): (.*)", re.DOTALL)


def _bad_json(exc: duckdb.Error) -> BadEvent | None:
    """What a parse error says about the piece: None if it may just be a cut inside a string.

    A cut never splits a UTF-8 sequence or leaves a piece that parses, so invalid
    UTF-8 and errors in turning a parsed entry into a row are the file's.
    """
    text = str(exc).split("\n", 1)[0]
    found = _RECORD.search(text)
    entry = int(found.group(1)) - 1 if found else None
    if "invalid UTF-8" in text:
        # DuckDB counts a malformed record one further than a transform error's (1.4, 2.0)
        entry = entry - 1 if entry else None
        return BadEvent(entry, "holds bytes that are not UTF-8 text")
    if "JSON transform error" in text and found:
        detail = found.group(2).strip()
        duplicate = re.search(r'has duplicate key "(.*)"', detail)
        if duplicate:
            return BadEvent(entry, f"`{duplicate.group(1)}` appears twice in one event")
        return BadEvent(entry, f"is not an event object ({detail[:80]})")
    return None


def open_bytes(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """Open a trace, un-gzipping by magic number; returns (readable, raw file)."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return igzip.IGzipFile(fileobj=raw), raw  # type: ignore[return-value]
    return raw, raw


def _read(fh: IO[bytes], n: int, path: Path) -> bytes:
    try:
        return fh.read(n)
    except (EOFError, gzip.BadGzipFile, zlib.error, IsalError, OSError) as exc:
        raise InputError(
            f"{path}: the file is truncated or not valid gzip ({exc})",
            "Re-copy the trace; a profiler killed while writing leaves a cut-off file.",
        ) from exc


class _ChunkParser:
    """Parses byte pieces ``{...}, {...}`` into Arrow tables through an in-memory DuckDB.

    One parser per thread (a DuckDB connection is not shared between threads).
    """

    def __init__(self) -> None:
        self.con = duckdb.connect(
            config={
                "threads": 1,
                "memory_limit": PARSER_MEMORY,
                "arrow_lossless_conversion": True,
            }
        )
        self.tmp = tempfile.NamedTemporaryFile(
            prefix="chunk-", suffix=".json", dir=places.scratch_dir()
        )

    def close(self) -> None:
        self.tmp.close()
        self.con.close()

    def parse(self, body: bytes, base_ns: int) -> KinetoChunk | BadEvent | None:
        """Parse ``[body]`` into a chunk with ids counted from 0; None if not JSON."""
        self.tmp.seek(0)
        self.tmp.truncate()
        self.tmp.write(b"[")
        self.tmp.write(body)
        self.tmp.write(b"]")
        self.tmp.flush()
        try:
            # read_json sizes its buffers from maximum_object_size: no event is larger
            # than the piece that holds it.
            max_object = max(len(body) + 64, 1 << 20)
            params = {"path": self.tmp.name, "max_object": max_object}
            try:
                self.con.execute(READ_SQL, params)
                count, bad, no_ts, negative = self.con.execute(COUNT_SQL).fetchall()[0]
                if bad is not None and bad[1] == RECHECK:
                    self.con.execute(EXACT_READ_SQL, params)
                    count, bad, no_ts, negative = self.con.execute(COUNT_SQL).fetchall()[0]
            except duckdb.InvalidInputException as exc:
                return _bad_json(exc)
            if bad is not None:
                return BadEvent(*bad)
            try:
                events = _times(self.con.sql(EVENT_SQL).to_arrow_table(), base_ns)
            except duckdb.OutOfMemoryException:
                return BadEvent(None, f"needs more than {PARSER_MEMORY} to parse")
            threads = _redacted_names(self.con.sql(THREAD_SQL).to_arrow_table())
        finally:
            self.con.execute("DROP TABLE IF EXISTS _c")
        if events is None:
            return BadEvent(None, "holds a `ts` + baseTimeNanoseconds or a `dur` beyond ±2^63 ns")
        warnings = Counter({NO_TS: no_ts, NEGATIVE_DUR: negative})
        return KinetoChunk(events, threads, count, +warnings)


def _redacted_names(threads: pa.Table) -> pa.Table:
    """Thread and process names are free text: credentials in them are redacted."""
    column = threads.schema.get_field_index("name")
    return threads.set_column(column, "name", redact_array(threads.column(column)))


_INT64_MAX = (1 << 63) - 1


def _ns(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(ns, validity) of a DECIMAL(22,3) column of µs.

    The ns are the decimals' unscaled int128 values, exact; None if one does not fit
    in an int64.
    """
    array = column.combine_chunks()
    n, offset = len(array), array.offset
    if not n:
        return np.zeros(0, np.int64), None
    words = np.frombuffer(array.buffers()[1], dtype=np.int64, count=2 * (offset + n))
    low, high = words[2 * offset :: 2], words[2 * offset + 1 :: 2]
    valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else None
    fits = high == (low >> 63)
    if not (fits.all() if valid is None else fits[valid].all()):
        return None
    return low, valid


def _times(events: pa.Table, base_ns: int) -> pa.Table | None:
    """Replace ``ts``/``dur`` by ``abs_ns`` = base + ts in ns and ``dur_ns`` (NULL or < 0: 0).

    None where a time does not fit in an int64 (as a failed cast in SQL would).
    """
    ts, dur = _ns(events.column("ts")), _ns(events.column("dur"))
    if ts is None or dur is None:
        return None
    ns = ts[0]
    if not len(ns):
        abs_ns = pa.array([], pa.int64())
    elif -_INT64_MAX - 1 <= int(ns.min()) + base_ns <= int(ns.max()) + base_ns <= _INT64_MAX:
        abs_ns = pa.array(ns + np.int64(base_ns), pa.int64())
    else:
        return None
    dur_ns = np.maximum(dur[0], 0)
    if dur[1] is not None:
        dur_ns[~dur[1]] = 0
    column = events.schema.get_field_index("ts")
    events = events.set_column(column, "abs_ns", abs_ns)
    column = events.schema.get_field_index("dur")
    return events.set_column(column, "dur_ns", pa.array(dur_ns, pa.int64()))


def _renumber(chunk: KinetoChunk, first_id: int) -> KinetoChunk:
    if first_id == 0:
        return chunk
    events = chunk.events
    column = events.schema.get_field_index("event_id")
    ids = pc.add(events.column(column), pa.scalar(first_id, pa.int64()))
    events = events.set_column(column, "event_id", ids)
    return KinetoChunk(events, chunk.threads, chunk.count, chunk.warnings)


def _reject(path: Path, bad: BadEvent, first_id: int) -> InputError:
    where = "traceEvents" if bad.entry is None else f"traceEvents[{first_id + bad.entry}]"
    return InputError(
        f"{path}: {where} {bad.problem}",
        "Fix or remove that event (the array counts from 0); "
        "a PyTorch profiler trace holds objects with numeric `ts`/`dur` and text `ph`/`name`.",
    )


class ParserPool:
    """``threads`` parser threads, each with its own :class:`_ChunkParser` (an in-memory
    DuckDB, made once per thread and kept until :meth:`close`).

    One pool serves every file of an import (``read_kineto(pool=...)``): opening and
    closing a DuckDB per file and thread cost as much as parsing a small trace.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or os.cpu_count() or 1
        self.local = threading.local()
        self.made: list[_ChunkParser] = []
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="kineto-parse")

    def _parser(self) -> _ChunkParser:
        parser = getattr(self.local, "parser", None)
        if parser is None:
            parser = self.local.parser = _ChunkParser()
            with self.lock:
                self.made.append(parser)
        return parser

    def submit(self, body: bytes, base_ns: int) -> Future[KinetoChunk | BadEvent | None]:
        return self.pool.submit(lambda: self._parser().parse(body, base_ns))

    def parse(self, body: bytes, base_ns: int) -> KinetoChunk | BadEvent | None:
        return self.submit(body, base_ns).result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for parser in self.made:
            parser.close()


def read_kineto(
    path: Path,
    *,
    on_progress: Callable[[int], None] | None = None,
    block_bytes: int = BLOCK_BYTES,
    pool: ParserPool | None = None,
) -> tuple[dict[str, Any], Iterator[KinetoChunk]]:
    """Return the metadata before ``traceEvents`` and an iterator of parsed event chunks.

    Keys written after the array (``traceName``, ``baseTimeNanoseconds`` in newer
    PyTorch) are merged into the returned dict once the iterator is exhausted;
    ``_base_ns`` holds the time base used for ``abs_ns``. ``on_progress`` receives
    how far into the file (in bytes on disk) parsing has got, for progress bars.
    Pieces are parsed by ``pool`` (default: a pool of its own, one thread per CPU
    core, closed with the iterator), as many at once as it has threads.
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
            explain_no_events(path, head)
        meta = head_meta(path, head[: match.start()])
    except BaseException:
        fh.close()
        raw.close()
        raise
    base = _base_ns(path, meta, head)
    meta["_base_ns"] = base
    return meta, _chunks(path, fh, raw, head[match.end() :], meta, on_progress, block_bytes, pool)


def _base_ns(path: Path, meta: dict[str, Any], head: bytes) -> int:
    """The time base must be known before the first event is parsed.

    Newer PyTorch writes ``baseTimeNanoseconds`` after the array; we find it by
    reading the file's last bytes (cheap for plain files, one extra pass for gzip).
    """
    if "baseTimeNanoseconds" in meta:
        return checked_base(path, meta["baseTimeNanoseconds"])
    return _base_from_tail(path) or 0


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


def _last_cut(buf: bytes, start: int) -> re.Match[bytes] | None:
    """The last ``}, {`` boundary in ``buf[start:]`` (looked for near the end first)."""
    lo = max(start, len(buf) - (1 << 16))
    while True:
        last = None
        for last in _BOUNDARY.finditer(buf, lo):  # noqa: B007
            pass
        if last is not None or lo == start:
            return last
        lo = start


def _chunks(
    path: Path,
    fh: IO[bytes],
    raw: IO[bytes],
    buf: bytes,
    meta: dict[str, Any],
    on_progress: Callable[[int], None] | None,
    block_bytes: int,
    shared: ParserPool | None,
) -> Iterator[KinetoChunk]:
    """Cut the array into pieces at ``}, {`` and parse ``parsers`` pieces at a time.

    A piece whose start is a real event boundary parses if and only if its end is
    one too; a piece that does not parse (the cut fell inside a string) is glued,
    with its separator, to the next piece and parsed again. Results are yielded
    in file order with event ids numbered from the start of the array.
    """
    pool = shared or ParserPool()
    base_ns, parsers = meta["_base_ns"], pool.threads
    pending: deque[list[Any]] = deque()  # [body, separator, future]
    next_id = 0
    limit = 8 * block_bytes + len(buf)  # the first piece holds what the head read

    def settle() -> Iterator[KinetoChunk]:
        """Resolve the oldest piece: yield it, or glue it to the next one."""
        nonlocal next_id, buf
        body, sep, future = pending.popleft()
        result = future.result()
        if isinstance(result, BadEvent):  # the oldest piece starts at an event: a real error
            raise _reject(path, result, next_id)
        if result is not None:
            chunk = _renumber(result, next_id)
            next_id += result.count
            if on_progress:
                on_progress(raw.tell())
            yield chunk
            return
        if pending:
            glued = body + sep + pending[0][0]
            if len(glued) > limit:
                raise InputError(f"{path}: invalid JSON inside the traceEvents array")
            pending[0][0] = glued
            pending[0][2] = pool.submit(glued, base_ns)
        else:
            buf = body + sep + buf

    try:
        searched_from = 0
        while more := _read(fh, block_bytes, path):
            buf += more
            cut = _last_cut(buf, searched_from)
            if cut is None:
                if len(buf) > limit:
                    raise InputError(f"{path}: invalid JSON inside the traceEvents array")
                searched_from = max(0, len(buf) - 16)
                continue
            body, sep = buf[: cut.start() + 1], buf[cut.start() + 1 : cut.end()]
            buf = buf[cut.end() :]
            searched_from = 0
            pending.append([body, sep, pool.submit(body, base_ns)])
            while len(pending) > parsers:
                yield from settle()
        while pending:
            yield from settle()
        for chunk in _final(path, pool, buf, meta, next_id):
            yield _renumber(chunk, next_id)
        if on_progress:
            on_progress(raw.tell())
    finally:
        if shared is None:
            pool.close()
        fh.close()
        raw.close()


def _final(
    path: Path, pool: ParserPool, buf: bytes, meta: dict[str, Any], first_id: int
) -> Iterator[KinetoChunk]:
    """The last piece holds the array's end: find the ``]`` whose both sides parse."""
    end = buf.rfind(b"]")
    while end != -1:
        late = tail_meta(path, buf[end + 1 :])
        if late is not None:
            body = buf[:end]
            if not body.strip():
                merge_tail(path, meta, late)
                return
            result = pool.parse(body, meta["_base_ns"])
            if isinstance(result, BadEvent):
                raise _reject(path, result, first_id)
            if result is not None:
                merge_tail(path, meta, late)
                yield result
                return
        end = buf.rfind(b"]", 0, end)
    raise InputError(
        f"{path}: the traceEvents array is not valid JSON or never ends (truncated file?)"
    )
