"""Parsed chunks on their way into ``events``: one INSERT reads them as the readers yield them.

Each source is parsed in a worker thread (Kineto pieces in the shared parser
pool) into Arrow chunks holding absolute times (``abs_ns``). A single INSERT
streams every chunk into ``events`` as it is parsed, with ``ts_ns = abs_ns -
offset``, the offset being the run's origin where the run exists and otherwise
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
import numpy as np
import pyarrow as pa

from tracekit.errors import InputError
from tracekit.ingest.contract import ParsedTrace, Reader, Source


class EventStream:
    """Parsed chunks on their way into ``events``: one INSERT reads them as they come.

    The i-th trace's rows carry ``trace_id`` = the i-th value the sequence
    ``trace_id_seq`` will hand out (``publish`` takes those values and checks them),
    and ``ts_ns = abs_ns - offsets[run]``: the run's origin where the run exists,
    else the earliest time among its first chunk and the ``first_ns`` of its
    traces known then (``publish`` shifts the rows where that was not the
    origin). Per trace it keeps the row count and the earliest ``abs_ns``.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.schema = con.sql("FROM events LIMIT 0").to_arrow_table().schema
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
        self.threads: list[tuple[int, pa.Table]] = []
        self.lock = threading.Lock()
        self.nulls: dict[pa.DataType, pa.Array] = {}

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
        failure: list[BaseException] = []

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
                    for events, threads in parsed.chunks:
                        if stop.is_set():
                            return
                        out.put(("chunk", (number, events, threads)))
                out.put(("done", None))
            except BaseException as exc:  # re-raised on the writing thread
                out.put(("error", exc))

        def batches() -> Iterator[pa.RecordBatch]:
            """The chunks as they come; an error is kept to re-raise it as it was."""
            remaining = len(todo)
            try:
                while remaining:
                    kind, payload = out.get()
                    if kind == "done":
                        remaining -= 1
                    elif kind == "error":
                        raise payload
                    else:
                        yield from self._chunk(*payload).to_batches()
            except GeneratorExit:  # DuckDB stopped reading: its own error says why
                raise
            except BaseException as exc:
                failure.append(exc)
                raise

        n_workers = workers or min(len(todo), os.cpu_count() or 1) or 1
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            futures = [pool.submit(work, source, sha) for source, sha in todo]
            try:
                self.con.register(
                    "_stream", pa.RecordBatchReader.from_batches(self.schema, batches())
                )
                self.con.execute("INSERT INTO events SELECT * FROM _stream")
                self.con.unregister("_stream")
            except duckdb.Error:
                if failure:
                    raise failure[0] from None
                raise
            finally:
                # After a failure, workers may still be putting chunks: take them until
                # every worker has returned (more of them than the queue holds would
                # otherwise block forever), and start no more.
                stop.set()
                for future in futures:
                    future.cancel()
                while not all(future.done() for future in futures):
                    try:
                        out.get(timeout=0.05)
                    except queue.Empty:
                        pass
        for number, threads in self.threads:
            self.con.register("_chunk", threads)
            self.con.execute(
                "INSERT INTO _stage_threads BY NAME SELECT ? AS source_no, * FROM _chunk", [number]
            )
            self.con.unregister("_chunk")

    def _chunk(self, number: int, events: pa.Table, threads: pa.Table) -> pa.Table:
        """``events`` as rows of the table ``events``; ``threads`` are kept for later.

        This runs inside the INSERT, so it cannot use the connection.
        """
        if threads.num_rows:
            self.threads.append((number, threads))
        rows = events.num_rows
        if not rows:
            return self.schema.empty_table()
        column = events.column("abs_ns")
        if column.null_count:
            raise RuntimeError("a reader handed out events without abs_ns")
        abs_ns = column.to_numpy()
        low, high = int(abs_ns.min()), int(abs_ns.max())
        self.rows[number] = self.rows.get(number, 0) + rows
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
        columns = []
        for column in self.schema:
            if column.name == "trace_id":
                value = pa.repeat(pa.scalar(self.trace_id(number), column.type), rows)
            elif column.name == "ts_ns":
                value = pa.array(abs_ns - np.int64(offset), pa.int64())
            elif column.name in events.column_names:
                value = events.column(column.name)
                if value.type != column.type:  # a cast loads Arrow compute (0.08 s)
                    value = value.cast(column.type)
            else:
                value = self._nulls(column.type, rows)
            columns.append(value)
        return pa.Table.from_arrays(columns, schema=self.schema)

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

    def _nulls(self, kind: pa.DataType, rows: int) -> pa.Array:
        """``rows`` NULLs: a slice of one array per type, not new buffers per chunk."""
        nulls = self.nulls.get(kind)
        if nulls is None or len(nulls) < rows:
            nulls = self.nulls[kind] = pa.nulls(rows, kind)
        return nulls.slice(0, rows)


def check_nonempty(stream: EventStream) -> None:
    for number, trace in enumerate(stream.traces):
        if not stream.rows.get(number):
            raise InputError(
                f"{trace.source.path}: the trace holds no timed events",
                "A profiler trace needs complete ('X') events; was the profiled region empty?",
            )
