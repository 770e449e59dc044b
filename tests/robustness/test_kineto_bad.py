"""Bad Kineto (PyTorch profiler) traces: an InputError naming the file and the field, never a
traceback, and the database left byte-identical.

Every input is generated here from a small valid trace: empty, truncated, corrupt gzip,
not JSON, the wrong top-level shape, each metadata and event field with the wrong type,
numbers out of range, NaN and Infinity, a 30 MB args string, 10,000 levels of nesting,
repeated keys and non-UTF-8 bytes. Each case imports in process into a copy of a
database that already holds a run (the same code path as the CLI, without starting
Python each time) and checks the message and the file's sha256; one subprocess per
class runs the CLI (exit 2, one paragraph, no file at a new --db path).
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import cpu, kernel, write_kineto
from tests.robustness.conftest import assert_clean_failure, digest, tk
from tracekit.errors import InputError
from tracekit.ingest.loader import import_paths

EVENT = (
    '{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 100, "tid": 100, '
    '"ts": 5.0, "dur": 2.0, "args": {"External id": 3}}'
)
FIELDS = {
    "ph": '"X"',
    "cat": '"cpu_op"',
    "name": '"aten::mm"',
    "pid": "100",
    "tid": "100",
    "ts": "5.0",
    "dur": "2.0",
    "args": '{"External id": 3}',
}
META = '"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "NVIDIA H100"}]'
DIST = '"distributedInfo": {"backend": "nccl", "rank": 0, "world_size": 2}'


def trace(
    *, head: str = f"{META}, {DIST}", events: str = EVENT, tail: str = '"traceName": "t"'
) -> bytes:
    """A trace as torch writes it: metadata, the array (a few good events around
    ``events``), keys after it."""
    good = [cpu("aten::add", 1.0, 1.0), kernel("k", 2.0, 1.0, correlation=3)]
    body = ", ".join([json.dumps(good[0]), events, json.dumps(good[1])])
    return f'{{{head}, "traceEvents": [{body}], {tail}}}'.encode()


def field(name: str, raw: str) -> bytes:
    """The trace with the middle event's ``name`` field written as ``raw``."""
    return trace(events=EVENT.replace(f'"{name}": {FIELDS[name]}', f'"{name}": {raw}'))


def dist(raw: str) -> bytes:
    return trace(head=f"{META}, {raw}")


def nested(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


VALID = trace()
GZ = gzip.compress(VALID)

# (id, file content, words the message must hold besides the file name)
CASES: list[tuple[str, bytes, tuple[str, ...]]] = [
    ("empty", b"", ("empty",)),
    ("blank", b" \n\t ", ("empty",)),
    ("not json", b"hello, world", ("not valid JSON",)),
    ("binary", bytes(range(256)) * 4, ("not valid JSON",)),
    ("top-level list", b"[1, 2, 3]", ("no `traceEvents` array", "list")),
    ("top-level number", b"42", ("no `traceEvents` array", "int")),
    ("top-level string", b'"traceEvents"', ("no `traceEvents` array", "str")),
    ("object without traceEvents", b'{"schemaVersion": 1}', ("no `traceEvents` array",)),
    ("traceEvents an object", b'{"traceEvents": {"ph": "X"}}', ("no `traceEvents` array",)),
    ("gzip body corrupt", GZ[:10] + bytes(len(GZ) - 18) + GZ[-8:], ("not valid gzip",)),
    ("gzip bad crc", GZ[:-8] + b"\0\0\0\0" + GZ[-4:], ("not valid gzip",)),
    ("gzip then junk", GZ + b"this is not gzip", ("not valid gzip",)),
    ("event not an object", trace(events="17"), ("traceEvents[1]", "not an event object")),
    ("event a list", trace(events="[1, 2]"), ("traceEvents[1]", "not an event object")),
    ("ts text", field("ts", '"abc"'), ("traceEvents[1]", "`ts`", "not a number")),
    ("ts numeric text", field("ts", '"5.0"'), ("traceEvents[1]", "`ts`", "not a number")),
    ("ts boolean", field("ts", "true"), ("traceEvents[1]", "`ts`", "not a number")),
    ("ts object", field("ts", '{"us": 5}'), ("traceEvents[1]", "`ts`", "not a number")),
    ("dur text", field("dur", '"2"'), ("traceEvents[1]", "`dur`", "not a number")),
    ("dur list", field("dur", "[2]"), ("traceEvents[1]", "`dur`", "not a number")),
    ("ph number", field("ph", "88"), ("traceEvents[1]", "`ph`", "not a string")),
    ("name number", field("name", "5"), ("traceEvents[1]", "`name`", "not a string")),
    ("name object", field("name", '{"a": 1}'), ("traceEvents[1]", "`name`", "not a string")),
    ("cat list", field("cat", '["cpu_op"]'), ("traceEvents[1]", "`cat`", "not a string")),
    ("pid object", field("pid", '{"a": 1}'), ("traceEvents[1]", "`pid`", "not a number")),
    ("tid boolean", field("tid", "false"), ("traceEvents[1]", "`tid`", "not a number")),
    ("args list", field("args", "[1]"), ("traceEvents[1]", "`args`", "not an object")),
    ("args text", field("args", '"x=1"'), ("traceEvents[1]", "`args`", "not an object")),
    ("ts 1e400", field("ts", "1e400"), ("traceEvents[1]", "`ts`", "out of range")),
    ("ts 2^70", field("ts", str(2**70)), ("traceEvents[1]", "`ts`", "out of range")),
    ("ts -2^70", field("ts", str(-(2**70))), ("traceEvents[1]", "`ts`", "out of range")),
    ("dur 2^70", field("dur", str(2**70)), ("traceEvents[1]", "`dur`", "out of range")),
    ("ts NaN", field("ts", "NaN"), ("traceEvents[1]", "`ts`", "NaN")),
    ("ts Infinity", field("ts", "Infinity"), ("traceEvents[1]", "`ts`", "Infinity")),
    ("dur -Infinity", field("dur", "-Infinity"), ("traceEvents[1]", "`dur`", "-Infinity")),
    (
        "ts + base beyond int64",
        trace(head=f'{META}, {DIST}, "baseTimeNanoseconds": {2**63 - 10}'),
        ("`ts`", "baseTimeNanoseconds"),
    ),
    (
        "args of 30 MB",
        field("args", json.dumps({"blob": "x" * (30 << 20)})),
        ("traceEvents[1]", "`args`", "30 MB"),
    ),
    ("metadata nested 10,000 deep", trace(tail=f'"x": {nested(10_000)}'), ("metadata", "depth")),
    (
        "key twice in an event",
        field("ts", '5.0, "ts": 6.0'),
        ("traceEvents[1]", "`ts` appears twice"),
    ),
    (
        "key twice in the metadata",
        trace(head=f'{META}, {DIST}, "schemaVersion": 2'),
        ("`schemaVersion` appears twice",),
    ),
    (
        "key twice inside distributedInfo",
        dist('"distributedInfo": {"rank": 0, "world_size": 2, "rank": 1}'),
        ("`rank` appears twice",),
    ),
    ("traceEvents twice", trace(tail='"traceEvents": []'), ("`traceEvents` appears twice",)),
    (
        "distributedInfo before and after",
        trace(tail='"distributedInfo": {"rank": 1, "world_size": 2}'),
        ("`distributedInfo` appears twice",),
    ),
    (
        "non-UTF-8 in an event",
        trace(events=EVENT.replace("aten::mm", "aten::MARK")).replace(b"MARK", b"\xff\xfe"),
        ("traceEvents[1]", "UTF-8"),
    ),
    ("distributedInfo a list", dist('"distributedInfo": [0, 2]'), ("`distributedInfo`", "list")),
    ("distributedInfo text", dist('"distributedInfo": "rank 0"'), ("`distributedInfo`", "str")),
    (
        "deviceProperties a number",
        trace(head=f'"deviceProperties": 8, {DIST}'),
        ("`deviceProperties`", "int"),
    ),
    (
        "world_size text",
        dist('"distributedInfo": {"rank": 0, "world_size": "two"}'),
        ("distributedInfo.world_size", "two"),
    ),
    (
        "rank 2^40",
        dist('"distributedInfo": {"rank": 1099511627776, "world_size": 2}'),
        ("distributedInfo.rank", "1099511627776"),
    ),
    (
        "rank true",
        dist('"distributedInfo": {"rank": true, "world_size": 2}'),
        ("distributedInfo.rank",),
    ),
    (
        "rank -1",
        dist('"distributedInfo": {"rank": -1, "world_size": 2}'),
        ("distributedInfo.rank",),
    ),
    (
        "rank not below world_size",
        dist('"distributedInfo": {"rank": 2, "world_size": 2}'),
        ("distributedInfo.rank", "world_size"),
    ),
    ("backend a number", dist('"distributedInfo": {"rank": 0, "backend": 7}'), ("backend",)),
    ("host_name a list", trace(head=f'{META}, {DIST}, "host_name": ["a"]'), ("`host_name`",)),
    (
        "baseTimeNanoseconds text",
        trace(tail='"baseTimeNanoseconds": "17"'),
        ("baseTimeNanoseconds",),
    ),
    ("baseTimeNanoseconds 1.5", trace(tail='"baseTimeNanoseconds": 1.5'), ("baseTimeNanoseconds",)),
    (
        "non-UTF-8 in the metadata",
        VALID.replace(b"NVIDIA H100", b"NVIDIA \xff\xfe"),
        ("metadata", "UTF-8"),
    ),
]


@pytest.fixture(scope="module")
def holding_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database that already holds one imported run."""
    base = tmp_path_factory.mktemp("kineto_bad")
    write_kineto(base / "good" / "rank0.json", [cpu("aten::add", 1.0, 1.0)], rank=0)
    db = base / "held.duckdb"
    import_paths(db, [base / "good"], run="good")
    return db


def _fails_cleanly(
    tmp_path: Path, holding_db: Path, content: bytes, words: tuple[str, ...]
) -> None:
    path = tmp_path / "rank0.json"
    path.write_bytes(content)
    db = tmp_path / "job.duckdb"
    shutil.copy(holding_db, db)
    before = digest(db)
    with pytest.raises(InputError) as err:
        import_paths(db, [path], run="bad")
    text = str(err.value)
    assert "\n\n" not in text, text
    assert text.startswith(f"{path}: "), text
    for word in words:
        assert word in text, (word, text)
    assert digest(db) == before


@pytest.mark.parametrize(("content", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_trace_fails_with_its_file_and_field(
    tmp_path: Path, holding_db: Path, content: bytes, words: tuple[str, ...]
) -> None:
    _fails_cleanly(tmp_path, holding_db, content, words)


@pytest.mark.parametrize("percent", [1, 5, 10, 20, 35, 50, 65, 80, 90, 95, 98, 99.5])
@pytest.mark.parametrize("gz", [False, True], ids=["json", "gzip"])
def test_truncated_trace_fails_with_its_file(
    tmp_path: Path, holding_db: Path, percent: float, gz: bool
) -> None:
    whole = GZ if gz else VALID
    content = whole[: max(3, int(len(whole) * percent / 100))]
    assert len(content) < len(whole)
    _fails_cleanly(tmp_path, holding_db, content, ("gzip",) if gz else ())


def _rank(folder: Path, rank: int, ts_us: float, base_ns: int) -> Path:
    path = folder / f"rank{rank}.json"
    head = f'{META}, "distributedInfo": {{"backend": "nccl", "rank": {rank}, "world_size": 2}}'
    events = EVENT.replace('"ts": 5.0', f'"ts": {ts_us}')
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(trace(head=head, events=events, tail=f'"baseTimeNanoseconds": {base_ns}'))
    return path


@pytest.mark.parametrize("together", [True, False], ids=["one import", "into the run later"])
def test_ranks_whose_clocks_are_centuries_apart_fail_naming_the_file(
    tmp_path: Path, holding_db: Path, together: bool
) -> None:
    """9.2e18 ns after -9e18 ns: no BIGINT holds the run's span (was an Arrow overflow)."""
    db = tmp_path / "job.duckdb"
    shutil.copy(holding_db, db)
    late = _rank(tmp_path / "a", 1, 1.0, 9_200_000_000_000_000_000)
    early = _rank(tmp_path / ("a" if together else "b"), 0, -9e15, 0)
    if not together:
        import_paths(db, [late], run="far")
    before = digest(db)
    with pytest.raises(InputError) as err:
        import_paths(db, [tmp_path / "a"] if together else [early], run="far")
    text = str(err.value)
    assert text.startswith((f"{early}: ", f"{late}: ")), text
    assert "`baseTimeNanoseconds`" in text and "run 'far'" in text and "\n\n" not in text
    assert digest(db) == before


def test_two_traces_claiming_one_rank_fail_naming_both(tmp_path: Path, holding_db: Path) -> None:
    db = tmp_path / "job.duckdb"
    shutil.copy(holding_db, db)
    first = _rank(tmp_path / "a", 0, 1.0, 0)
    second = tmp_path / "a" / "copy.json"
    second.write_bytes(first.read_bytes().replace(b'"aten::add"', b'"aten::sub"'))
    before = digest(db)
    with pytest.raises(InputError) as err:
        import_paths(db, [tmp_path / "a"], run="twice")
    assert str(first) in str(err.value) and str(second) in str(err.value)
    assert "rank 0" in str(err.value)
    assert digest(db) == before


def test_args_nested_10000_deep_are_stored_as_written(tmp_path: Path) -> None:
    """Deep but valid JSON in `args` is data: it is kept (DuckDB's JSON has no depth limit)."""
    path = tmp_path / "rank0.json"
    path.write_bytes(field("args", nested(10_000)))
    import_paths(tmp_path / "job.duckdb", [path], run="deep")
    con = duckdb.connect(str(tmp_path / "job.duckdb"), read_only=True)
    args = con.execute("SELECT args FROM events WHERE name = 'aten::mm'").fetchall()[0][0]
    con.close()
    assert args == nested(10_000).replace(" ", "")


# One CLI run for each kind of failure (reading, an event, the metadata, the bytes): the
# same failure as a user sees it; the in-process cases above cover every class.
SMOKES = {
    "empty": b"",
    "truncated gzip": GZ[: len(GZ) // 2],
    "ts text": field("ts", '"abc"'),
    "key twice": trace(tail='"traceEvents": []'),
    "non-UTF-8": VALID.replace(b"aten::mm", b"aten::\xff\xfe"),
}


@pytest.mark.parametrize("content", list(SMOKES.values()), ids=list(SMOKES))
def test_cli_exits_2_with_one_paragraph_and_leaves_no_database(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "rank0.json"
    path.write_bytes(content)
    db = tmp_path / "new.duckdb"
    proc = tk("import", path, "--db", db)
    assert_clean_failure(proc, str(path))
    assert digest(db) is None
    assert list(tmp_path.iterdir()) == [path]
