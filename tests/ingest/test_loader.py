"""Importing into the store: ranks, runs, duplicates, transactions, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from tests.conftest import cpu, kernel, write_kineto
from tracekit.errors import InputError
from tracekit.ingest.loader import import_paths


def _counts(db: Path) -> tuple:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM traces), "
            "(SELECT count(*) FROM events), (SELECT count(*) FROM threads)"
        ).fetchall()[0]
    finally:
        con.close()


def _two_ranks(folder: Path) -> Path:
    for rank in (0, 1):
        write_kineto(
            folder / f"rank{rank}.json.gz",
            [cpu("aten::mm", 10.0 + rank, 5.0), kernel("gemm", 20.0 + rank, 3.0, correlation=1)],
            rank=rank,
        )
    return folder


def test_import_two_ranks_into_one_run(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    summary = import_paths(db, [_two_ranks(tmp_path / "job")])
    assert (summary.runs, summary.traces, summary.ranks, summary.events, summary.kernels) == (
        ["job"],
        2,
        2,
        4,
        2,
    )
    con = duckdb.connect(str(db))
    rows = con.execute(
        "SELECT t.rank, t.rank_source, min(e.ts_ns) FROM events e JOIN traces t USING (trace_id) "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall()
    # the run's origin is its earliest event: rank 0's cpu op at 10 us
    assert rows == [(0, "distributedInfo", 0), (1, "distributedInfo", 1000)]


def test_a_later_rank_that_started_earlier_moves_the_origin(tmp_path: Path) -> None:
    # One worker reads rank 0 first; rank 1 started 4 us before it, so the rows
    # already inserted relative to rank 0's start are shifted once the origin is known.
    for rank, start in ((0, 14.0), (1, 10.0)):
        write_kineto(
            tmp_path / "job" / f"rank{rank}.json.gz",
            [cpu("aten::mm", start, 5.0), kernel("gemm", start + 10.0, 3.0, correlation=1)],
            rank=rank,
        )
    db = tmp_path / "t.duckdb"
    import_paths(db, [tmp_path / "job"], workers=1)
    con = duckdb.connect(str(db))
    rows = con.execute(
        "SELECT t.rank, e.name, e.ts_ns, t.time_offset_ns = r.origin_ns, t.event_count "
        "FROM events e JOIN traces t USING (trace_id) JOIN runs r USING (run_id) ORDER BY 1, 3"
    ).fetchall()
    assert rows == [
        (0, "aten::mm", 4000, True, 2),
        (0, "gemm", 14000, True, 2),
        (1, "aten::mm", 0, True, 2),
        (1, "gemm", 10000, True, 2),
    ]


def test_rank_from_file_name_then_option(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    write_kineto(tmp_path / "a" / "worker3.json", [cpu("x", 1.0, 1.0)], rank=None)
    import_paths(db, [tmp_path / "a"])
    write_kineto(tmp_path / "b" / "trace.json", [cpu("y", 1.0, 1.0)], rank=None)
    with pytest.raises(InputError, match="cannot tell which rank"):
        import_paths(db, [tmp_path / "b"])
    import_paths(db, [tmp_path / "b" / "trace.json"], rank=5)
    con = duckdb.connect(str(db))
    assert con.execute("SELECT run_id, rank, rank_source FROM traces ORDER BY 1").fetchall() == [
        ("a", 3, "filename"),
        ("b", 5, "option"),
    ]


def test_same_rank_twice_is_an_error_and_nothing_lands(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    write_kineto(tmp_path / "job" / "x.json", [cpu("x", 1.0, 1.0)], rank=0)
    write_kineto(tmp_path / "job" / "y.json", [cpu("y", 1.0, 1.0)], rank=0)
    with pytest.raises(InputError, match="claimed twice"):
        import_paths(db, [tmp_path / "job"])
    assert not db.exists()  # nothing lands, not even an empty store


def test_reimport_is_skipped_by_hash_and_replaced_on_request(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    job = _two_ranks(tmp_path / "job")
    import_paths(db, [job])
    before = _counts(db)
    again = import_paths(db, [job])
    assert again.traces == 0 and len(again.skipped) == 2
    assert _counts(db) == before
    replaced = import_paths(db, [job], replace=True)
    assert replaced.traces == 2
    assert _counts(db) == before


def test_other_content_for_an_existing_rank_needs_replace(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    import_paths(db, [_two_ranks(tmp_path / "job")])
    write_kineto(tmp_path / "job2" / "rank0.json", [cpu("z", 1.0, 1.0)], rank=0)
    with pytest.raises(InputError, match="already has rank 0"):
        import_paths(db, [tmp_path / "job2" / "rank0.json"], run="job")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.json", b"", "empty"),
        ("broken.json", b"{[", "not valid JSON"),
        ("other.json", b'{"hello": "world"}', "no `traceEvents`"),
        ("noevents.json", b'{"traceEvents": []}', "no timed events"),
        ("cut.json.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\xae", "truncated"),
    ],
)
def test_a_bad_file_leaves_the_database_as_it_was(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    db = tmp_path / "t.duckdb"
    import_paths(db, [_two_ranks(tmp_path / "job")])
    before = _counts(db)
    batch = _two_ranks(tmp_path / "batch")
    (batch / "rank1.json.gz").unlink()
    (batch / name).write_bytes(content)
    with pytest.raises(InputError) as err:
        import_paths(db, [batch], run="second")
    assert message in err.value.message and name in err.value.message
    assert _counts(db) == before


def test_folder_without_traces_and_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no traces in this folder"):
        import_paths(tmp_path / "t.duckdb", [tmp_path / "empty"])
    (tmp_path / "dangling").mkdir()
    os.symlink(tmp_path / "gone.json", tmp_path / "dangling" / "rank0.json")
    with pytest.raises(InputError, match="cannot read the file"):
        import_paths(tmp_path / "t.duckdb", [tmp_path / "dangling"])


def test_kineto_and_nsys_of_one_folder_become_two_runs(tmp_path: Path) -> None:
    from tracekit.ingest.discover import discover

    write_kineto(tmp_path / "job" / "rank0.pt.trace.json.gz", [cpu("x", 1.0, 1.0)])
    (tmp_path / "job" / "rank0.sqlite").write_bytes(b"")
    (tmp_path / "job" / "rank0.nsys-rep").write_bytes(b"")
    runs = {(s.path.name, s.run) for s in discover([tmp_path / "job"])}
    assert runs == {("rank0.pt.trace.json.gz", "job"), ("rank0.sqlite", "job-nsys")}


def test_the_summary_counts_only_what_this_import_added(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    import_paths(db, [_two_ranks(tmp_path / "job")])
    samples = Path(__file__).resolve().parents[2] / "sample_traces"
    summary = import_paths(db, [samples / "tp2pp2", samples / "tp2"])
    con = duckdb.connect(str(db), read_only=True)
    expected = con.execute(
        "SELECT count(DISTINCT (t.run_id, t.rank)), count(*), "
        "(SELECT count(*) FROM comm_ops WHERE trace_id > 2) "
        "FROM events e JOIN traces t USING (trace_id) WHERE t.run_id <> 'job'"
    ).fetchall()[0]
    spans = con.execute(
        "SELECT max(ts_ns + dur_ns) - min(ts_ns) FROM events WHERE trace_id > 2"
    ).fetchall()[0][0]
    con.close()
    assert summary.runs == ["tp2", "tp2pp2"] and summary.traces == 6
    assert expected[2] > 0
    assert (summary.ranks, summary.events, summary.comm_ops, summary.span_ns) == (*expected, spans)
    assert summary.kernels == 0  # CPU (gloo) runs


def test_a_bad_file_among_more_workers_than_queued_chunks_fails_cleanly(tmp_path: Path) -> None:
    # 24 workers and a queue of 8 chunks: whatever the timing, after the failure every
    # worker still holding a chunk is drained (the import must raise, not hang), no
    # parser thread is left and the database is as it was.
    job = tmp_path / "job"
    for rank in range(24):
        events = [cpu("aten::mm", 10.0 + i, 0.5) for i in range(3000)]
        write_kineto(job / f"rank{rank}.json", events, rank=rank)
    (job / "rank12.json").write_bytes(b'{"traceEvents": [{"ph": "X", "ts": 1, "dur": 1}, {oops')
    db = tmp_path / "t.duckdb"
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            import_paths(db, [job], workers=24)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the import hung after a worker failed"
    assert len(outcome) == 1 and isinstance(outcome[0], InputError)
    assert "rank12.json" in outcome[0].message
    assert not db.exists()  # nothing lands, not even an empty store
    assert not [t for t in threading.enumerate() if t.name.startswith("kineto-parse")]


def test_kineto_keys_after_the_events_reach_source_meta(tmp_path: Path) -> None:
    # torch writes traceName and baseTimeNanoseconds after traceEvents; they are known
    # only once the reader has drained the array (hta_overlap_by_rank reads the base)
    write_kineto(
        tmp_path / "job" / "rank0.json",
        [cpu("aten::mm", 1.0, 1.0)],
        extra={"traceName": "rank0.pt.trace.json", "baseTimeNanoseconds": 7_000_000},
    )
    db = tmp_path / "t.duckdb"
    import_paths(db, [tmp_path / "job"])
    con = duckdb.connect(str(db), read_only=True)
    meta = con.execute(
        "SELECT source_meta->>'traceName', (source_meta->>'baseTimeNanoseconds')::BIGINT, "
        "time_offset_ns FROM traces"
    ).fetchall()
    assert meta == [("rank0.pt.trace.json", 7_000_000, 7_001_000)]


def test_real_trailing_base_time_is_kept(tmp_path: Path, shared_traces: Path) -> None:
    db = tmp_path / "t.duckdb"
    import_paths(db, [shared_traces / "kineto" / "nccl_parser_config"])
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute(
        "SELECT source_meta->>'baseTimeNanoseconds', source_meta->>'traceName' FROM traces"
    ).fetchall() == [("1711964646000000000", "/tmp/tmpu3g3sevh.json")]


def _ranks_of(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT run_id, rank, parse_filename(path), event_count FROM traces ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


def test_replace_with_another_file_leaves_one_trace_per_rank(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    import_paths(db, [_two_ranks(tmp_path / "job")])
    newer = write_kineto(
        tmp_path / "later" / "rank0.json", [cpu("a", 1.0, 1.0), cpu("b", 3.0, 1.0)], rank=0
    )
    summary = import_paths(db, [newer], run="job", replace=True)
    assert summary.traces == 1
    assert _ranks_of(db) == [("job", 0, "rank0.json", 2), ("job", 1, "rank1.json.gz", 2)]
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute(
        "SELECT rank, count(*) FROM overlap_by_rank GROUP BY 1 ORDER BY 1"
    ).fetchall() == [
        (0, 1),
        (1, 1),
    ]
    assert con.execute("SELECT count(*) FROM events").fetchall() == [(4,)]


def test_replace_into_another_run_keeps_the_first_run(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    job = _two_ranks(tmp_path / "job")
    import_paths(db, [job], run="A")
    summary = import_paths(db, [job / "rank0.json.gz"], run="B", replace=True)
    assert summary.runs == ["B"] and summary.traces == 1
    assert _ranks_of(db) == [
        ("A", 0, "rank0.json.gz", 2),
        ("A", 1, "rank1.json.gz", 2),
        ("B", 0, "rank0.json.gz", 2),
    ]
    # replacing it in B again replaces B's copy only
    import_paths(db, [job / "rank0.json.gz"], run="B", replace=True)
    assert len(_ranks_of(db)) == 3


def test_a_rank_outside_the_world_size_is_kept_and_counted(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    import_paths(db, [_two_ranks(tmp_path / "job")])  # world size 2
    write_kineto(tmp_path / "more" / "rank5.json", [cpu("x", 1.0, 1.0)], rank=None)
    summary = import_paths(db, [tmp_path / "more" / "rank5.json"], run="job")
    assert summary.warnings == [
        ("traces whose rank is not below their run's world size (kept as given)", 1)
    ]
    assert ("job", 5, "rank5.json", 1) in _ranks_of(db)


def test_questionable_kineto_events_are_counted_in_the_summary(tmp_path: Path) -> None:
    no_ts = {"ph": "X", "cat": "cpu_op", "name": "lost", "pid": 1, "tid": 1, "dur": 1.0}
    events = [cpu("a", 1.0, 1.0), cpu("b", 2.0, -3.0), cpu("c", 4.0, -1.0), no_ts]
    write_kineto(tmp_path / "job" / "rank0.json", events)
    db = tmp_path / "t.duckdb"
    summary = import_paths(db, [tmp_path / "job"])
    assert summary.events == 3
    assert summary.warnings == [
        ("events without `ts` (not stored)", 1),
        ("events with a negative `dur` (stored with dur_ns 0)", 2),
    ]
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT name, dur_ns FROM events ORDER BY 1").fetchall() == [
        ("a", 1000),
        ("b", 0),
        ("c", 0),
    ]


def test_readers_depend_on_the_contract_not_on_the_loader() -> None:
    code = (
        "import sys, tracekit.ingest.nsys, tracekit.ingest.kineto_trace\n"
        "print('tracekit.ingest.loader' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
