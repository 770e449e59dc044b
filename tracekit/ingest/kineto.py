"""Stream a PyTorch-profiler (Kineto) Chrome-trace JSON file into chunks of event rows.

A trace is never held as a tree of Python objects. The file (optionally
gzip) is read in blocks; the ``traceEvents`` array is cut into chunks of whole
events at ``}, {`` boundaries and each chunk is parsed by DuckDB's JSON reader
straight into typed columns (:mod:`tracekit.ingest.kineto_parse`, with the SQL
of :mod:`tracekit.ingest.kineto_sql`), as many pieces at once as there are
parser threads; a file of up to 10 MB is cut in three pieces parsed one at a time, a
larger one into pieces of up to 16 MB (``BLOCK_BYTES``), one per thread at a time.
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
import re
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

# ISA-L inflates gzip about 3.5x faster than zlib (0.4 vs 1.5 CPU s per GB)
from isal import igzip
from isal.isal_zlib import error as IsalError

from tracekit.errors import InputError
from tracekit.ingest.kineto_meta import (
    checked_base,
    explain_no_events,
    head_meta,
    merge_tail,
    tail_meta,
)
from tracekit.ingest.kineto_parse import BadEvent, Base, KinetoChunk, ParserPool, cores

BLOCK_BYTES = 16 << 20
# A file up to this size is parsed one piece at a time: two pieces parsed at once
# peak about 10 MB higher.
ONE_PIECE_BYTES = 10 << 20
# The second inflate of a gzip trace, for its last bytes, keeps one such block at a time.
TAIL_BLOCK_BYTES = 1 << 20
MAX_HEAD_BYTES = 64 << 20
_EVENTS_KEY = re.compile(rb'"traceEvents"\s*:\s*\[')
_BOUNDARY = re.compile(rb"\}\s*,\s*(?=\{)")
_TEXT = re.compile(rb"\S")


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


def _renumber(chunk: KinetoChunk, first_id: int) -> KinetoChunk:
    """Event ids count from the start of the array: the piece's rows are read from there."""
    chunk.events.first_id = first_id
    return chunk


def _reject(path: Path, bad: BadEvent, first_id: int) -> InputError:
    where = "traceEvents" if bad.entry is None else f"traceEvents[{first_id + bad.entry}]"
    return InputError(
        f"{path}: {where} {bad.problem}",
        "Fix or remove that event (the array counts from 0); "
        "a PyTorch profiler trace holds objects with numeric `ts`/`dur` and text `ph`/`name`.",
    )


def read_kineto(
    path: Path,
    *,
    on_progress: Callable[[int], None] | None = None,
    block_bytes: int | None = None,
    pool: ParserPool | None = None,
) -> tuple[dict[str, Any], Iterator[KinetoChunk]]:
    """Return the metadata before ``traceEvents`` and an iterator of parsed event chunks.

    Keys written after the array (``traceName``, ``baseTimeNanoseconds`` in newer
    PyTorch) are merged into the returned dict once the iterator is exhausted, as
    is ``_base_ns``, the time base used for ``abs_ns``. ``on_progress`` receives
    how far into the file (in bytes on disk) parsing has got, for progress bars.
    Pieces are parsed by ``pool`` (default: a pool of its own, one thread per CPU
    core, closed with the iterator), as many at once as it has threads; they are
    read ``block_bytes`` at a time (default: :func:`_block_bytes`).
    """
    fh, raw = open_bytes(path)
    try:
        in_flight = pool.threads if pool else cores()
        if block_bytes is None:
            block_bytes, in_flight = _block_bytes(path, raw, gz=fh is not raw, threads=in_flight)
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
        base = _base_ns(path, meta, gz=fh is not raw)
    except BaseException:
        fh.close()
        raw.close()
        raise
    rest = head[match.end() :]
    return meta, _chunks(path, fh, raw, rest, meta, base, on_progress, block_bytes, pool, in_flight)


def _block_bytes(path: Path, raw: IO[bytes], *, gz: bool, threads: int) -> tuple[int, int]:
    """The blocks a file is read in, and how many of its pieces parse at once.

    A file of up to ONE_PIECE_BYTES is read in thirds, parsed one piece at a time (the
    INSERT of one overlapping the parse of the next); a larger one is shared evenly
    among the parser threads. Each piece costs about 20 ms of planning besides its
    parse, so a block is not smaller than 1 MB.
    """
    size = path.stat().st_size
    if gz:  # gzip ends with the inflated size modulo 2^32
        raw.seek(max(0, size - 4))
        size = max(size, int.from_bytes(raw.read(4), "little"))
        raw.seek(0)
    if size <= ONE_PIECE_BYTES:
        return max(1 << 20, -(-size // 3)), 1
    return max(1 << 20, min(BLOCK_BYTES, -(-size // threads))), threads


def _base_ns(path: Path, meta: dict[str, Any], *, gz: bool) -> Base:
    """The time base, needed as each piece's times are computed.

    Newer PyTorch writes ``baseTimeNanoseconds`` after the array; we find it in the
    file's last bytes: at once in a plain file; in a gzip file by a second pass,
    inflated in a thread of its own while the pieces are read and parsed (ISA-L
    releases the GIL), the parsers waiting for it only to add it to their times.
    """
    if "baseTimeNanoseconds" in meta:
        return checked_base(path, meta["baseTimeNanoseconds"])
    if not gz:
        return _base_from_tail(path) or 0
    base: Future[int] = Future()

    def inflate() -> None:
        try:
            base.set_result(_base_from_tail(path) or 0)
        except BaseException as exc:  # raised where a parser waits for it
            base.set_exception(exc)

    threading.Thread(target=inflate, name="kineto-base", daemon=True).start()
    return base


_BASE_RE = re.compile(rb'"baseTimeNanoseconds"\s*:\s*(\d+)\s*[,}]')


def _base_from_tail(path: Path) -> int | None:
    fh, raw = open_bytes(path)
    with raw, fh:
        if isinstance(fh, gzip.GzipFile):
            tail = b""
            while block := _read(fh, TAIL_BLOCK_BYTES, path):
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
    base_ns: Base,
    on_progress: Callable[[int], None] | None,
    block_bytes: int,
    shared: ParserPool | None,
    in_flight: int,
) -> Iterator[KinetoChunk]:
    """Cut the array into pieces at ``}, {`` and parse ``in_flight`` pieces at a time.

    A piece whose start is a real event boundary parses if and only if its end is
    one too; a piece that does not parse (the cut fell inside a string) is glued,
    with its separator, to the next piece and parsed again. The last block read
    is not cut: it goes, up to the array's ``]``, into the last piece, parsed
    alongside the others. Results are yielded in file order with event ids
    numbered from the start of the array.
    """
    pool = shared or ParserPool()
    # [body, separator, future, (text from the array's `]` on, the keys after it) or None]
    pending: deque[list[Any]] = deque()
    next_id = 0
    # the first piece holds what the head read; a piece never grows beyond this
    limit = 8 * max(block_bytes, BLOCK_BYTES) + len(buf)
    below: int | None = None  # where the search for the array's end goes on, if it must
    finished = False  # the last piece, up to the array's end, is parsed

    def settle() -> Iterator[KinetoChunk]:
        """Resolve the oldest piece: yield it, or glue it to the next one."""
        nonlocal next_id, buf, below, finished
        body, sep, future, end = pending.popleft()
        result = future.result()
        if isinstance(result, BadEvent):  # the oldest piece starts at an event: a real error
            raise _reject(path, result, next_id)
        if result is not None:
            if end is not None:
                merge_tail(path, meta, end[1])
                finished = True
            chunk = _renumber(result, next_id)
            next_id += result.count
            if on_progress:
                on_progress(raw.tell())
            yield chunk
            return
        if pending:
            glued = b"".join((body, sep, pending[0][0]))
            if len(glued) > limit:
                raise InputError(f"{path}: invalid JSON inside the traceEvents array")
            pending[0][0] = glued
            pending[0][2] = pool.submit(glued, base_ns)
        elif end is not None:  # not the array's end after all: look further back
            buf, below = b"".join((body, end[0])), len(body)
        else:
            buf = b"".join((body, sep, buf))

    try:
        searched_from = 0
        more = _read(fh, block_bytes, path)
        while more:
            buf += more
            more = _read(fh, block_bytes, path)
            if not more:
                break
            if in_flight == 1:  # the next piece is cut once the last one has parsed
                while pending:
                    yield from settle()
            cut = _last_cut(buf, searched_from)
            if cut is None:
                if len(buf) > limit:
                    raise InputError(f"{path}: invalid JSON inside the traceEvents array")
                searched_from = max(0, len(buf) - 16)
                continue
            # the piece is a view of the block read (a copy of 16 MB costs 10-30 ms)
            body, sep = memoryview(buf)[: cut.start() + 1], buf[cut.start() + 1 : cut.end()]
            buf = buf[cut.end() :]
            searched_from = 0
            pending.append([body, sep, pool.submit(body, base_ns), None])
            while len(pending) > in_flight:
                yield from settle()
        while in_flight == 1 and pending:
            yield from settle()
        meta["_base_ns"] = base_ns if isinstance(base_ns, int) else base_ns.result()
        end, late = _array_end(path, buf, len(buf))
        if late is not None and _TEXT.search(buf, 0, end):
            body = memoryview(buf)[:end]
            pending.append([body, b"", pool.submit(body, base_ns), (buf[end:], late)])
            buf = b""
        while pending:
            yield from settle()
        if not finished:
            for chunk in _final(path, pool, buf, meta, next_id, below):
                yield _renumber(chunk, next_id)
        if on_progress:
            on_progress(raw.tell())
    finally:
        if shared is None:
            pool.close()
        fh.close()
        raw.close()


def _array_end(path: Path, buf: bytes, below: int) -> tuple[int, bytes | None]:
    """The last ``]`` before ``below`` that follows an event's ``}`` (or nothing) and is
    followed by the file's closing keys, and those keys (as an object's text); (-1, None)
    where there is none.

    An array of strings among the closing keys (Kineto's ``"INFO": [...]``) would
    otherwise be taken for the end of ``traceEvents``, its piece fail to parse and the
    last piece be parsed again, alone, after the others.
    """
    end = buf.rfind(b"]", 0, below)
    while end != -1:
        last = end
        while last and buf[last - 1] in b" \t\r\n":
            last -= 1
        if last == 0 or buf[last - 1] == ord("}"):
            late = tail_meta(path, buf[end + 1 :])
            if late is not None:
                return end, late
        end = buf.rfind(b"]", 0, end)
    return -1, None


def _final(
    path: Path,
    pool: ParserPool,
    buf: bytes,
    meta: dict[str, Any],
    first_id: int,
    below: int | None,
) -> Iterator[KinetoChunk]:
    """The last piece holds the array's end (before ``below``, where given): find the
    ``]`` whose both sides parse."""
    end, late = _array_end(path, buf, len(buf) if below is None else below)
    while late is not None:
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
        end, late = _array_end(path, buf, end)
    raise InputError(
        f"{path}: the traceEvents array is not valid JSON or never ends (truncated file?)"
    )
