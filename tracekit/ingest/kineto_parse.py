"""Parse one piece of a Kineto ``traceEvents`` array (``{...}, {...}``) into Arrow tables.

Each parser thread of a :class:`ParserPool` keeps an in-memory DuckDB; a piece
is written to a scratch file and read by the SQL of
:mod:`tracekit.ingest.kineto_sql`, which checks every field. ``ts`` and ``dur``
come back as exact decimals whose unscaled values are the ns (:func:`_times`).
A piece that is not JSON gives None (the reader glues it to the next piece), an
event tracekit cannot take a :class:`BadEvent`. Used by
:mod:`tracekit.ingest.kineto`.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from tracekit import places
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

# The time base of a trace's times: known, or still being read (a gzip file's end).
Base = int | Future[int]
# Memory each parser's in-memory DuckDB may use (a 16 MB piece needs far less).
PARSER_MEMORY = "512MB"


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

    def parse(self, body: bytes, base_ns: Base) -> KinetoChunk | BadEvent | None:
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
                events = self.con.sql(EVENT_SQL).to_arrow_table()
                base = base_ns if isinstance(base_ns, int) else base_ns.result()
                events = _times(events, base)
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
    valid = None
    if array.null_count:  # the validity bitmap as booleans (Arrow compute costs 0.08 s to load)
        bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
        valid = np.unpackbits(bits, bitorder="little")[offset : offset + n].view(bool)
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


def cores() -> int:
    """The CPU cores this process may run on (fewer than the machine's under taskset)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ParserPool:
    """``threads`` parser threads, each with its own :class:`_ChunkParser` (an in-memory
    DuckDB, made once per thread and kept until :meth:`close`).

    One pool serves every file of an import (``read_kineto(pool=...)``): opening and
    closing a DuckDB per file and thread cost as much as parsing a small trace.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or cores()
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

    def submit(self, body: bytes, base_ns: Base) -> Future[KinetoChunk | BadEvent | None]:
        return self.pool.submit(lambda: self._parser().parse(body, base_ns))

    def parse(self, body: bytes, base_ns: Base) -> KinetoChunk | BadEvent | None:
        return self.submit(body, base_ns).result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for parser in self.made:
            parser.close()
