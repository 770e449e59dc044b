"""Parse one piece of a Kineto ``traceEvents`` array (``{...}, {...}``) into event rows.

The parser threads of a :class:`ParserPool` share an in-memory DuckDB; a piece
is written to a scratch file and read, in a cursor of its own, by the SQL of
:mod:`tracekit.ingest.kineto_sql`, which checks every field and computes the
exact ns times. The rows stay in that cursor's temp table until the loader's
INSERT reads them as an Arrow C stream (:class:`PieceRows`): no pyarrow, no
numpy. A piece that is not JSON gives None (the reader glues it to the next
piece), an event tracekit cannot take a :class:`BadEvent`. Used by
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

from tracekit import places
from tracekit.ingest.kineto_sql import (
    COUNT_SQL,
    EVENT_SQL,
    EXACT_READ_SQL,
    NEGATIVE_DUR,
    NO_TS,
    READ_SQL,
    RECHECK,
    SPAN_SQL,
    THREAD_SQL,
)
from tracekit.secrets import redact

# The time base of a trace's times: known, or still being read (a gzip file's end).
Base = int | Future[int]
# Memory each parser thread may use in the pool's in-memory DuckDB (a 16 MB piece
# needs far less).
PARSER_MEMORY_MB = 512
PARSER_MEMORY = f"{PARSER_MEMORY_MB}MB"


class PieceRows:
    """A parsed piece's rows of ``events`` (the temp table ``_e`` of the cursor that
    parsed it), read once as an Arrow C stream with event ids from ``first_id``."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor
        self.first_id = 0

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        rows = self.cursor.sql(f"SELECT * REPLACE (event_id + {self.first_id} AS event_id) FROM _e")
        return rows.__arrow_c_stream__(requested_schema)

    def close(self) -> None:
        self.cursor.close()


@dataclass
class KinetoChunk:
    """Parsed events and thread names of one piece of the array.

    ``count`` is how many entries of the array the piece holds, ``rows`` how many
    events it gave, ``low``/``high`` their earliest and latest ``abs_ns``; ``threads``
    are (pid, tid, name) rows; ``warnings`` counts the questionable data accepted in
    it (:data:`NO_TS`, :data:`NEGATIVE_DUR`).
    """

    events: PieceRows
    threads: list[tuple[int | None, int | None, str | None]]
    count: int = 0
    rows: int = 0
    low: int = 0
    high: int = 0
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
    """Parses byte pieces ``{...}, {...}`` through the pool's in-memory DuckDB, each in a
    cursor that keeps its rows until they are read.

    One parser per thread (a DuckDB connection is not shared between threads).
    """

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        self.con = db.cursor()
        self.tmp = tempfile.NamedTemporaryFile(
            prefix="chunk-", suffix=".json", dir=places.scratch_dir()
        )

    def close(self) -> None:
        self.tmp.close()
        self.con.close()

    def parse(self, body: bytes | memoryview, base_ns: Base) -> KinetoChunk | BadEvent | None:
        """Parse ``[body]`` into a chunk with ids counted from 0; None if not JSON."""
        self.tmp.seek(0)
        self.tmp.truncate()
        self.tmp.write(b"[")
        self.tmp.write(body)
        self.tmp.write(b"]")
        self.tmp.flush()
        cursor = self.con.cursor()
        try:
            result = self._parse(cursor, len(body), base_ns)
        except BaseException:
            cursor.close()
            raise
        if not isinstance(result, KinetoChunk):
            cursor.close()
        return result

    def _parse(
        self, cursor: duckdb.DuckDBPyConnection, size: int, base_ns: Base
    ) -> KinetoChunk | BadEvent | None:
        # read_json sizes its buffers from maximum_object_size: no event is larger
        # than the piece that holds it.
        params = {"path": self.tmp.name, "max_object": max(size + 64, 1 << 20)}
        try:
            cursor.execute(READ_SQL, params)
            count, bad, no_ts, negative = cursor.execute(COUNT_SQL).fetchall()[0]
            if bad is not None and bad[1] == RECHECK:
                cursor.execute(EXACT_READ_SQL, params)
                count, bad, no_ts, negative = cursor.execute(COUNT_SQL).fetchall()[0]
        except duckdb.InvalidInputException as exc:
            return _bad_json(exc)
        if bad is not None:
            return BadEvent(*bad)
        try:
            base = base_ns if isinstance(base_ns, int) else base_ns.result()
            cursor.execute(EVENT_SQL, {"base": base})
            rows, low, high, too_far = cursor.execute(SPAN_SQL).fetchall()[0]
        except duckdb.OutOfMemoryException:
            return BadEvent(None, f"needs more than {PARSER_MEMORY} to parse")
        if too_far:
            return BadEvent(None, "holds a `ts` + baseTimeNanoseconds or a `dur` beyond ±2^63 ns")
        # thread and process names are free text: credentials in them are redacted
        threads = [
            (pid, tid, redact(name)) for pid, tid, name in cursor.execute(THREAD_SQL).fetchall()
        ]
        cursor.execute("DROP TABLE _c")
        warnings = Counter({NO_TS: no_ts, NEGATIVE_DUR: negative})
        return KinetoChunk(PieceRows(cursor), threads, count, rows, low or 0, high or 0, +warnings)


def cores() -> int:
    """The CPU cores this process may run on (fewer than the machine's under taskset)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ParserPool:
    """``threads`` parser threads, each with its own :class:`_ChunkParser` (a connection
    to one in-memory DuckDB, made when the first piece comes and kept until :meth:`close`).

    One pool serves every file of an import (``read_kineto(pool=...)``): opening and
    closing a DuckDB per file and thread cost as much as parsing a small trace. The
    threads share one DuckDB rather than each having one: 6-10 MB less at the peak.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or cores()
        self.local = threading.local()
        self.made: list[_ChunkParser] = []
        self.lock = threading.Lock()
        self.db: duckdb.DuckDBPyConnection | None = None
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="kineto-parse")

    def _parser(self) -> _ChunkParser:
        parser = getattr(self.local, "parser", None)
        if parser is None:
            with self.lock:
                if self.db is None:
                    self.db = duckdb.connect(
                        config={
                            # each query runs on the thread that asks for it
                            "threads": 1,
                            "memory_limit": f"{PARSER_MEMORY_MB * self.threads}MB",
                            "arrow_lossless_conversion": True,
                            # pieces waiting for the INSERT may exceed the limit: they spill
                            "temp_directory": str(places.scratch_dir() / "parse"),
                        }
                    )
                parser = self.local.parser = _ChunkParser(self.db)
                self.made.append(parser)
        return parser

    def submit(
        self, body: bytes | memoryview, base_ns: Base
    ) -> Future[KinetoChunk | BadEvent | None]:
        return self.pool.submit(lambda: self._parser().parse(body, base_ns))

    def parse(self, body: bytes | memoryview, base_ns: Base) -> KinetoChunk | BadEvent | None:
        return self.submit(body, base_ns).result()

    def close(self) -> None:
        """Stop the threads and close their DuckDBs (again: nothing to do)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        for parser in self.made:
            parser.close()
        self.made.clear()
        if self.db is not None:
            self.db.close()
            self.db = None
