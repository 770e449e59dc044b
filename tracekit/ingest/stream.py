"""Parsed chunks on their way into ``events``, inserted as the readers yield them.

Each source is parsed in a worker thread (Kineto pieces in the shared parser
pool) into chunks holding absolute times (``abs_ns``). The writing thread
inserts them into ``events`` as they come, with ``ts_ns = abs_ns - offset``:
a Kineto import by an INSERT per chunk, reading it as an Arrow C stream (no
pyarrow is loaded), an import with an nsys report by one INSERT reading every
chunk through a pyarrow stream. The offset is the run's origin where the run exists and otherwise
the earliest time that the readers announce (``ParsedTrace.first_ns``) or that
the run's first chunk holds; :mod:`tracekit.ingest.publish` shifts the rows
whose offset was not the origin.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import duckdb

from tracekit.errors import InputError
from tracekit.ingest.contract import EventChunk, ParsedTrace, Reader, Source

INSERT_SQL = (
    "INSERT INTO events BY NAME SELECT * EXCLUDE (abs_ns), $trace_id AS trace_id, "
    "abs_ns - $offset AS ts_ns FROM _chunk"
)


class EventStream:
    """Parsed chunks on their way into ``events``, inserted as they come.

    The i-th trace's rows carry ``trace_id`` = the i-th value the sequence
    ``trace_id_seq`` will hand out (``publish`` takes those values and checks them),
    and ``ts_ns = abs_ns - offsets[run]``: the run's origin where the run exists,
    else the earliest time among its first chunk and the ``first_ns`` of its
    traces known then (``publish`` shifts the rows where that was not the
    origin). Per trace it keeps the row count and the earliest ``abs_ns``.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.offsets: dict[str, int] = dict(
            con.execute("SELECT run_id, origin_ns FROM runs").fetchall()
        )
        self.first_id, self.id_step = con.execute(
            "SELECT coalesce(last_value + increment_by, start_value), increment_by "
            "FROM duckdb_sequences() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND sequence_name = 'trace_id_seq'"
        ).fetchall()[0]
        self.traces: list[ParsedTrace] = []
        self.rows: dict[int, int] = {}
        self.first: dict[int, int] = {}
        self.spans: dict[str, tuple[int, int]] = {}  # per run: earliest and latest abs_ns
        self.threads: list[tuple[int, int | None, int | None, str | None]] = []
        self.lock = threading.Lock()

    def trace_id(self, number: int) -> int:
        return self.first_id + number * self.id_step

    def run(
        self,
        todo: list[tuple[Source, str]],
        readers: dict[str, Reader],
        workers: int | None,
        progress: Callable[[str, int, int], None] | None,
    ) -> None:
        """Parse sources in worker threads while DuckDB inserts what they yield."""
        out: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=8)
        stop = threading.Event()

        def work(source: Source, sha: str) -> None:
            if stop.is_set():
                return
            try:
                size = source.path.stat().st_size

                def tick(done: int) -> None:
                    if progress:
                        progress(str(source.path), done, size)

                parsed_traces = readers[source.format](source, sha, tick)
                with self.lock:
                    first = len(self.traces)
                    self.traces.extend(parsed_traces)
                for number, parsed in enumerate(parsed_traces, first):
                    for chunk in parsed.chunks:
                        if stop.is_set():
                            if chunk.release:
                                chunk.release()
                            return
                        out.put(("chunk", (number, chunk)))
                out.put(("done", None))
            except BaseException as exc:  # re-raised on the writing thread
                out.put(("error", exc))

        def chunks() -> Iterator[tuple[int, EventChunk]]:
            remaining = len(todo)
            while remaining:
                kind, payload = out.get()
                if kind == "done":
                    remaining -= 1
                elif kind == "error":
                    raise payload
                else:
                    yield payload

        n_workers = workers or min(len(todo), os.cpu_count() or 1) or 1
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            futures = [pool.submit(work, source, sha) for source, sha in todo]
            try:
                if any(source.format != "kineto" for source, _sha in todo):
                    self._insert_stream(chunks())
                else:
                    for number, chunk in chunks():
                        self._insert(number, chunk)
            finally:
                # After a failure, workers may still be putting chunks: take them until
                # every worker has returned (more of them than the queue holds would
                # otherwise block forever), and start no more.
                stop.set()
                for future in futures:
                    future.cancel()
                while not all(future.done() for future in futures):
                    try:
                        _release(out.get(timeout=0.05))
                    except queue.Empty:
                        pass
                while not out.empty():
                    _release(out.get())
        if self.threads:
            self.con.execute(
                "INSERT INTO _stage_threads BY NAME SELECT unnest($rows, recursive := true)",
                {"rows": [dict(zip(_THREAD_KEYS, row, strict=True)) for row in self.threads]},
            )

    def _insert(self, number: int, chunk: EventChunk) -> None:
        """Insert ``chunk``'s events into ``events`` by a statement of their own."""
        try:
            offset = self._place(number, chunk)
            if offset is None:
                return
            self.con.register("_chunk", chunk.events.__arrow_c_stream__())
            try:
                self.con.execute(INSERT_SQL, {"trace_id": self.trace_id(number), "offset": offset})
            finally:
                self.con.unregister("_chunk")
        finally:
            if chunk.release:
                chunk.release()

    def _insert_stream(self, chunks: Iterator[tuple[int, EventChunk]]) -> None:
        """Insert every chunk by one INSERT that reads them through a pyarrow stream.

        For imports with an nsys report (whose reader loads pyarrow anyway): a
        statement per chunk of 131,072 rows made the COMMIT rewrite the rows (1 M
        kernels: 0.4-1.4 s against 0.05 s, 1-2.5 CPU s more in all).
        """
        import pyarrow as pa

        schema = self.con.sql("FROM events LIMIT 0").to_arrow_table().schema
        failure: list[BaseException] = []
        nulls: dict[pa.DataType, pa.Array] = {}

        def batches() -> Iterator[pa.RecordBatch]:
            """The chunks as they come; an error is kept to re-raise it as it was."""
            try:
                for number, chunk in chunks:
                    try:
                        offset = self._place(number, chunk)
                        if offset is not None:
                            events = pa.table(chunk.events)
                            trace_id = self.trace_id(number)
                            yield from _rows(schema, events, trace_id, offset, nulls)
                    finally:
                        if chunk.release:
                            chunk.release()
            except GeneratorExit:  # DuckDB stopped reading: its own error says why
                raise
            except BaseException as exc:
                failure.append(exc)
                raise

        try:
            self.con.register("_stream", pa.RecordBatchReader.from_batches(schema, batches()))
            self.con.execute("INSERT INTO events SELECT * FROM _stream")
            self.con.unregister("_stream")
        except duckdb.Error:
            if failure:
                raise failure[0] from None
            raise

    def _place(self, number: int, chunk: EventChunk) -> int | None:
        """Count ``chunk`` and keep its threads; the offset of its times (None: no rows).

        This may run inside the INSERT, so it cannot use the connection.
        """
        self.threads.extend((number, *row) for row in chunk.threads)
        if not chunk.rows:
            return None
        low, high = chunk.low, chunk.high
        self.rows[number] = self.rows.get(number, 0) + chunk.rows
        self.first[number] = min(low, self.first.get(number, low))
        run = self.traces[number].source.run
        if run not in self.offsets:
            with self.lock:
                known = [
                    t.first_ns
                    for t in self.traces
                    if t.source.run == run and t.first_ns is not None
                ]
            self.offsets[run] = min([low, *known])
        offset = self.offsets[run]
        # no overflow: every time of the run lies within 2^63 ns of the offset
        self._check_span(number, run, offset, low, high)
        return offset

    def _check_span(self, number: int, run: str, offset: int, low: int, high: int) -> None:
        """A run's times, its offset among them, must lie within 2^63 ns of each other:
        then ``ts_ns`` (also once shifted to the run's origin) fits in a BIGINT."""
        first, last = self.spans.get(run, (offset, offset))
        first, last = min(first, low), max(last, high)
        self.spans[run] = first, last
        if last - first > (1 << 63) - 1:
            raise InputError(
                f"{self.traces[number].source.path}: its events lie about "
                f"{(last - first) / 3.156e16:.0f} years from others of run {run!r}, more than "
                "64-bit nanoseconds hold: do `baseTimeNanoseconds` and `ts` of these traces "
                "share a clock?",
                "Import the trace as a run of its own with --run NAME, or fix its times.",
            )


_THREAD_KEYS = ("source_no", "pid", "tid", "name")


def _rows(
    schema: Any, events: Any, trace_id: int, offset: int, nulls: dict[Any, Any]
) -> Iterator[Any]:
    """``events`` (an Arrow table with ``abs_ns``) as record batches of ``events``; a
    column it lacks is a slice of one array of NULLs per type (``nulls``)."""
    import numpy as np
    import pyarrow as pa

    rows = events.num_rows
    columns = []
    for column in schema:
        if column.name == "trace_id":
            value = pa.repeat(pa.scalar(trace_id, column.type), rows)
        elif column.name == "ts_ns":
            abs_ns = events.column("abs_ns").to_numpy()
            value = pa.array(abs_ns - np.int64(offset), pa.int64())
        elif column.name in events.column_names:
            value = events.column(column.name)
            if value.type != column.type:
                value = value.cast(column.type)
        else:
            if len(nulls.get(column.type, ())) < rows:
                nulls[column.type] = pa.nulls(rows, column.type)
            value = nulls[column.type].slice(0, rows)
        columns.append(value)
    return iter(pa.Table.from_arrays(columns, schema=schema).to_batches())


def _release(item: tuple[str, Any]) -> None:
    """Free a chunk that will not be inserted."""
    kind, payload = item
    if kind == "chunk" and payload[1].release:
        payload[1].release()


def check_nonempty(stream: EventStream) -> None:
    for number, trace in enumerate(stream.traces):
        if not stream.rows.get(number):
            raise InputError(
                f"{trace.source.path}: the trace holds no timed events",
                "A profiler trace needs complete ('X') events; was the profiled region empty?",
            )
