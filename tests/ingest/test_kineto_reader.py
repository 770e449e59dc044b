"""The streaming Kineto reader: exact times, typed args, chunking that survives braces."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import Future
from pathlib import Path

import pyarrow as pa
import pytest

from tests.conftest import REPO, cpu, kernel, write_kineto
from tracekit.errors import InputError
from tracekit.ingest.kineto import read_kineto
from tracekit.ingest.kineto_parse import Base, ParserPool
from tracekit.ingest.kineto_sql import NEGATIVE_DUR, NO_TS

SAMPLE = REPO / "sample_traces" / "tp2"
THREAD_COLUMNS = ("pid", "tid", "name")


def _read_all(path: Path, block: int = 1 << 24) -> tuple[dict, pa.Table, pa.Table]:
    meta, chunks = read_kineto(path, block_bytes=block)
    # a chunk's rows are read as it comes: its parser closes with the iterator
    parts = [(pa.table(c.events), c.threads) for c in chunks]
    events = pa.concat_tables([e for e, _ in parts]) if parts else None
    threads = pa.Table.from_pylist(
        [dict(zip(THREAD_COLUMNS, row, strict=True)) for _, rows in parts for row in rows]
    )
    return meta, events, threads


def _tricky_events(n: int) -> list[dict]:
    events = [
        {"ph": "M", "name": "thread_name", "pid": 100, "tid": 101, "args": {"name": "worker"}},
        {"ph": "M", "name": "process_name", "pid": 100, "tid": 0, "args": {"name": "python"}},
    ]
    for i in range(n):
        events.append(
            kernel(
                "void at::native::f<{lambda(int)#1}>(...)::{lambda()#2}, }, {",
                1000.5 + i,
                0.25,
                correlation=i,
            )
        )
        events.append(cpu("aten::mm", 999.0 + i, 2.0, **{"Input Dims": [[2, 3], [{"a": 1}]]}))
    return events


def test_times_are_exact_nanoseconds_with_base_time_after_the_array(tmp_path: Path) -> None:
    events = [kernel("k", 4458676983543.183, 2636.669, correlation=7)]
    path = write_kineto(tmp_path / "t.json", events, extra={"baseTimeNanoseconds": 10**18})
    meta, table, _ = _read_all(path)
    row = table.to_pylist()[0]
    assert meta["_base_ns"] == 10**18
    assert row["abs_ns"] == 10**18 + 4458676983543183
    assert row["dur_ns"] == 2636669
    assert (row["kind"], row["device"], row["stream"], row["correlation"]) == ("kernel", 0, 7, 7)
    assert row["pid"] is None and row["tid"] is None


def test_known_args_become_columns_and_the_rest_is_kept(tmp_path: Path) -> None:
    args = {
        "Collective name": "allreduce",
        "In msg nelems": 6637568,
        "Out msg nelems": 6637568,
        "dtype": "Float",
        "Group size": 2,
        "Process Group Name": "0",
        "Process Group Ranks": "[0, 1]",
        "grid": [8, 1, 1],
    }
    path = write_kineto(tmp_path / "t.json", [kernel("ncclKernel_x", 1.0, 1.0, **args)])
    row = _read_all(path)[1].to_pylist()[0]
    assert (row["coll_name"], row["in_nelems"], row["dtype"], row["group_size"]) == (
        "allreduce",
        6637568,
        "Float",
        2,
    )
    assert row["pg_ranks"] == "[0, 1]"
    assert json.loads(row["args"]) == {"grid": [8, 1, 1]}


def test_string_pids_and_metadata_rows(tmp_path: Path) -> None:
    events = [
        {
            "ph": "i",
            "name": "Iteration Start",
            "pid": "Traces",
            "tid": "Trace",
            "ts": 5.0,
            "s": "g",
        },
        {"ph": "M", "name": "thread_name", "pid": 100, "tid": 101, "args": {"name": "gloo"}},
        cpu("aten::add", 1.0, 1.0),
    ]
    _, table, threads = _read_all(write_kineto(tmp_path / "t.json", events))
    rows = {r["name"]: r for r in table.to_pylist()}
    assert rows["Iteration Start"]["kind"] == "instant"
    assert rows["Iteration Start"]["pid"] is None
    assert rows["aten::add"]["pid"] == 100
    assert threads.to_pylist() == [{"pid": 100, "tid": 101, "name": "gloo"}]


@pytest.mark.parametrize("compact", [True, False])
def test_chunking_gives_the_same_rows_at_any_block_size(tmp_path: Path, compact: bool) -> None:
    # 1.6 MB: past the first 1 MB (read whole with the metadata) come 64 kB pieces
    doc = {"schemaVersion": 1, "traceEvents": _tricky_events(5000), "traceName": "x ] }"}
    text = json.dumps(doc, indent=None if compact else 2).encode()
    path = tmp_path / "t.json.gz"
    path.write_bytes(gzip.compress(text))
    _, whole, _ = _read_all(path)
    meta, small, threads = _read_all(path, block=1 << 16)
    assert meta["traceName"] == "x ] }"
    assert whole.num_rows == small.num_rows == 10000
    assert sorted(small.column("event_id").to_pylist()) == sorted(
        whole.column("event_id").to_pylist()
    )
    assert small.sort_by("event_id").equals(whole.sort_by("event_id"))
    assert threads.num_rows == 2


def test_gzip_is_detected_by_content_not_suffix(tmp_path: Path) -> None:
    path = write_kineto(tmp_path / "t.json", [cpu("aten::add", 1.0, 1.0)], gz=True)
    assert _read_all(path)[1].num_rows == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"{not json", "not valid JSON"),
        (b'{"foo": [1, 2]}', "no `traceEvents` array"),
        (b'{"traceEvents": [{"ph": "X", "ts": 1, "dur": 1', "never ends"),
        (b'{"traceEvents": [{"ph": "X", "ts": 1, "dur": 1}, {oops}]}', "not valid JSON"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        _meta, chunks = read_kineto(path)
        list(chunks)
    assert message in err.value.message
    assert str(path) in err.value.message


def test_truncated_gzip(tmp_path: Path) -> None:
    good = write_kineto(tmp_path / "g.json.gz", _tricky_events(2000))
    path = tmp_path / "cut.json.gz"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated"):
        _meta, chunks = read_kineto(path, block_bytes=4096)
        list(chunks)


def test_args_residual_drops_typed_keys_and_is_null_when_empty(tmp_path: Path) -> None:
    events = [
        {"ph": "X", "cat": "cpu_op", "name": "no_args", "pid": 1, "tid": 1, "ts": 1, "dur": 1},
        cpu("empty", 2.0, 1.0),
        cpu("typed_only", 3.0, 1.0, **{"External id": 3, "Input Dims": [[1, 2], []]}),
        cpu("null_typed", 4.0, 1.0, correlation=None, **{"Ev Idx": 4, "nested": {"Seq": 1}}),
        {"ph": "X", "cat": "cpu_op", "name": "null_args", "pid": 1, "ts": 5, "args": None},
    ]
    _, table, _ = _read_all(write_kineto(tmp_path / "t.json", events))
    residual = {r["name"]: r["args"] for r in table.to_pylist()}
    assert residual["no_args"] is None
    assert residual["empty"] is None
    assert residual["typed_only"] is None
    assert json.loads(residual["null_typed"]) == {"Ev Idx": 4, "nested": {"Seq": 1}}
    assert residual["null_args"] is None


def _timed(path: Path, times: list[tuple[str, str | None]], extra: str = "") -> Path:
    """A trace of cpu_op events ``e0``, ``e1``... with ``ts``/``dur`` as written."""
    rows = ", ".join(
        f'{{"ph": "X", "cat": "cpu_op", "name": "e{i}", "pid": 1, "ts": {ts}'
        + ("" if dur is None else f', "dur": {dur}')
        + "}"
        for i, (ts, dur) in enumerate(times)
    )
    path.write_text('{"traceEvents": [' + rows + "]" + extra + "}")
    return path


def test_times_are_rounded_half_away_from_zero_to_the_nanosecond(tmp_path: Path) -> None:
    times = [
        ("1.0005", "0.0004"),
        ("-2.0005", "-1"),
        ("1694128201435418", None),
        ("4458676522690.655", "1e-3"),
        ("1.5e3", "2636.669"),
    ]
    _, table, _ = _read_all(_timed(tmp_path / "t.json", times, ', "baseTimeNanoseconds": 1000'))
    got = {r["name"]: (r["abs_ns"], r["dur_ns"]) for r in table.to_pylist()}
    assert got == {
        "e0": (1000 + 1001, 0),
        "e1": (1000 - 2001, 0),
        "e2": (1000 + 1694128201435418000, 0),
        "e3": (1000 + 4458676522690655, 1),
        "e4": (1000 + 1500000, 2636669),
    }


def test_times_out_of_the_int64_range_fail_the_piece(tmp_path: Path) -> None:
    """`ts` + baseTimeNanoseconds and `dur` in ns must fit in a BIGINT, to the last ns."""
    top = (1 << 63) - 1
    base = f', "baseTimeNanoseconds": {top - 5000}'
    edge = [("5", "-1"), ("0.001", "3.001"), ("-0.001", None)]
    _, table, _ = _read_all(_timed(tmp_path / "edge.json", edge, base))
    got = {r["name"]: (r["abs_ns"], r["dur_ns"]) for r in table.to_pylist()}
    assert got == {"e0": (top, 0), "e1": (top - 4999, 3001), "e2": (top - 5001, 0)}
    beyond = "holds a `ts` + baseTimeNanoseconds or a `dur` beyond ±2^63 ns"
    for name, times, extra in [
        ("ts.json", [("9300000000000000", "1")], ""),
        ("negative_ts.json", [("-9300000000000000", "1")], ""),
        ("dur.json", [("1", "9300000000000000")], ""),
        ("negative_dur.json", [("1", "-9300000000000000")], ""),
        ("base.json", [("5.001", "1")], base),
    ]:
        path = _timed(tmp_path / name, times, extra)
        with pytest.raises(InputError) as err:
            _read_all(path)
        assert err.value.message == f"{path}: traceEvents {beyond}"


@pytest.mark.parametrize("block", [1 << 16, 1 << 24])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"abc"', '`ts` is "abc", not a number'),
        ("true", "`ts` is true, not a number"),
        ("1e400", "`ts` 1e400 is out of range (more than 10^19 µs)"),
        ("NaN", "`ts` is NaN, not a number"),
        ('1.0, "ts": 2.0', "`ts` appears twice in one event"),
    ],
)
def test_a_bad_event_is_named_by_its_position_at_any_block_size(
    tmp_path: Path, block: int, value: str, message: str
) -> None:
    events = _tricky_events(5000)  # 2 thread names, 10,000 events: 1.6 MB, pieces past 1 MB
    events[7777] = cpu("bad", 123456.0, 1.0)
    text = json.dumps({"traceEvents": events}).replace('"ts": 123456.0', f'"ts": {value}')
    path = tmp_path / "t.json"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        _read_all(path, block)
    assert err.value.message == f"{path}: traceEvents[7777] {message}"


def test_events_without_ts_and_negative_durations_are_counted(tmp_path: Path) -> None:
    events = [
        cpu("kept", 1.0, 2.0),
        cpu("negative", 2.0, -3.5),
        {"ph": "X", "cat": "cpu_op", "name": "no_ts", "pid": 1, "tid": 1, "dur": 1},
        {"ph": "i", "name": "instant_no_ts", "pid": 1, "tid": 1},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "t"}},
    ] * 3000
    path = write_kineto(tmp_path / "t.json", events)  # 1.9 MB: the first 1 MB is one piece
    _meta, chunks = read_kineto(path, block_bytes=1 << 16)
    parts = [(pa.table(c.events), c.warnings) for c in chunks]
    assert len(parts) > 1
    warnings = sum((w for _, w in parts), Counter())
    assert warnings == {NO_TS: 6000, NEGATIVE_DUR: 3000}
    rows = pa.concat_tables([e for e, _ in parts]).to_pylist()
    assert sorted({(r["name"], r["dur_ns"]) for r in rows}) == [("kept", 2000), ("negative", 0)]
    assert len(rows) == 6000


def test_text_that_looks_like_json_is_still_text(tmp_path: Path) -> None:
    """Names read as VARCHAR that could be a number or object's JSON text are checked
    again exactly: as strings they are kept as written."""
    names = ["[memory]", "{lambda}", "-1", "0xdead", "true", "NaN", "Infinity", "aten::mm"]
    events = [cpu(name, 1.0 + i, 1.0, cat=f"[{name}]") for i, name in enumerate(names)]
    _, table, _ = _read_all(write_kineto(tmp_path / "t.json", events))
    assert table.column("name").to_pylist() == names
    assert table.column("cat").to_pylist() == [f"[{name}]" for name in names]


def test_a_base_time_after_the_array_that_its_last_bytes_do_not_show_is_an_error(
    tmp_path: Path,
) -> None:
    """The time base is read from the last 4 kB before the events are parsed: a trailing
    `baseTimeNanoseconds` followed by more than that would have been ignored (times off
    by the whole base); now it is an error."""
    path = write_kineto(
        tmp_path / "t.json",
        [cpu("a", 1.0, 1.0)],
        extra={"baseTimeNanoseconds": 10**18, "padding": "x" * 5000},
    )
    with pytest.raises(InputError, match="not the time base found in the file's last 4 kB"):
        _read_all(path)
    near_end = write_kineto(
        tmp_path / "u.json", [cpu("a", 1.0, 1.0)], extra={"baseTimeNanoseconds": 10**18}
    )
    assert _read_all(near_end)[1].column("abs_ns").to_pylist() == [10**18 + 1000]


def _python(script: str) -> str:
    """What ``script`` prints, run by a new Python with this checkout on its path."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.strip()


def test_a_kineto_import_does_not_load_pyarrow(tmp_path: Path) -> None:
    """Loading pyarrow and numpy takes about 0.15 s and 70 MB: a Kineto import and
    overlap_by_rank (whose thread names hold no credential) never need them; the parsed
    pieces reach the INSERT as Arrow C streams of DuckDB results."""
    script = (
        "import sys; from pathlib import Path; from tracekit import store; "
        "from tracekit.ingest.loader import import_paths; "
        f"import_paths(Path({str(tmp_path / 'job.duckdb')!r}), [Path({str(SAMPLE)!r})]); "
        f"con = store.connect(Path({str(tmp_path / 'job.duckdb')!r}), read_only=True); "
        "assert con.execute('SELECT count(*) FROM overlap_by_rank').fetchone()[0] == 2; "
        "print(sorted({'pyarrow', 'numpy', 'polars'} & set(sys.modules)))"
    )
    assert _python(script) == "[]"


def test_the_manifest_module_loads_only_for_a_folder_with_a_manifest(tmp_path: Path) -> None:
    """Defining the manifest's dataclasses takes 10-15 ms of every import's start-up: a
    folder of traces without manifest.json never needs them."""
    write_kineto(tmp_path / "job" / "rank0.json", [kernel("gemm", 0, 10, correlation=1)])
    script = (
        "import sys; from pathlib import Path; from tracekit.ingest.loader import import_paths; "
        "import_paths(Path({db!r}), [Path({folder!r})]); "
        "print('tracekit.collect.manifest' in sys.modules)"
    )
    job, with_manifest = str(tmp_path / "job"), str(SAMPLE)
    assert _python(script.format(db=str(tmp_path / "a.duckdb"), folder=job)) == "False"
    assert _python(script.format(db=str(tmp_path / "b.duckdb"), folder=with_manifest)) == "True"


def test_parser_threads_follow_the_cores_the_process_may_use() -> None:
    """Under `taskset -c 0` an import parses with one thread, not one per machine core."""
    script = (
        "import os; from tracekit.ingest.kineto_parse import ParserPool; "
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); pool = ParserPool(); "
        "print(pool.threads); pool.close()"
    )
    assert _python(script) == "1"


@pytest.mark.parametrize("gz", [False, True])
def test_an_array_of_strings_after_the_events_is_not_taken_for_their_end(
    tmp_path: Path, gz: bool
) -> None:
    """Kineto writes `"INFO": ["..."]` after traceEvents: every piece parses the first
    time. The piece up to INFO's `]` was parsed first, failed, and the last piece was
    then parsed again, alone, after the others."""
    events = [cpu(f"op{i}", float(i), 1.0) for i in range(12000)]  # 1.9 MB: 3 pieces
    info = {"INFO": ["profiler.cpp:1] Enabling", "PyTorch Profiler: 1 iterations"]}
    path = write_kineto(tmp_path / "t.json", events, extra={**info, "traceName": "t"}, gz=gz)
    submitted: list[Future] = []

    class Counted(ParserPool):
        def submit(self, body: bytes, base_ns: Base) -> Future:
            submitted.append(super().submit(body, base_ns))
            return submitted[-1]

    pool = Counted(2)
    try:
        meta, chunks = read_kineto(path, pool=pool, block_bytes=1 << 18)
        rows = sum(chunk.rows for chunk in chunks)
    finally:
        pool.close()
    assert (rows, meta["traceName"], meta["INFO"]) == (12000, "t", info["INFO"])
    assert len(submitted) > 1
    assert all(future.result() is not None for future in submitted)


@pytest.mark.parametrize("gz", [False, True])
def test_a_file_up_to_ten_mb_is_parsed_a_piece_at_a_time(tmp_path: Path, gz: bool) -> None:
    """Two pieces of a 10 MB trace parsed at once peaked above HTA's memory: up to
    ONE_PIECE_BYTES a file is cut in three pieces parsed one at a time; beyond, each
    parser thread gets a share."""

    class Watched(ParserPool):
        running = most = 0

        def submit(self, body: bytes, base_ns: Base) -> Future:
            def parse() -> object:
                with self.lock:
                    self.running += 1
                    self.most = max(self.most, self.running)
                try:
                    return self._parser().parse(body, base_ns)
                finally:
                    with self.lock:
                        self.running -= 1

            return self.pool.submit(parse)

    seen = {}
    for n in (40000, 80000):  # about 6 and 12 MB
        events = [cpu(f"op{i}", i, 1.0) for i in range(n)]
        path = write_kineto(tmp_path / f"t{n}.json", events, gz=gz)
        pool = Watched(2)
        try:
            _meta, chunks = read_kineto(path, pool=pool)
            pieces = [chunk.rows for chunk in chunks]
        finally:
            pool.close()
        assert sum(pieces) == n
        seen[n] = (len(pieces), pool.most)
    assert seen[40000] == (3, 1)
    assert seen[80000][0] == 2
