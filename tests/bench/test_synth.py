"""The synthetic trace generator: traces that import with the counts it reports."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from tracekit.ingest.kineto import read_kineto
from tracekit.ingest.kineto_parse import ParserPool
from tracekit.ingest.loader import import_paths

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import synth  # noqa: E402


def test_kineto_trace_imports_with_the_expected_counts(tmp_path: Path) -> None:
    made = synth.generate(tmp_path / "job", ranks=2, layers=3, steps=3, gz=True)
    assert [p.name for p, _ in made] == ["rank0.pt.trace.json.gz", "rank1.pt.trace.json.gz"]
    counts = made[0][1]
    # per step: (attention 4 + mlp 3) x layers + embedding + lm_head kernels, 2 all-reduces
    # per layer, one memcpy
    assert counts.kernels == 3 * (3 * (4 + 3 + 2) + 2)
    assert counts.comm_kernels == 3 * 3 * 2
    assert counts.memcpys == 3
    summary = import_paths(tmp_path / "t.duckdb", [tmp_path / "job"])
    assert summary.ranks == 2
    assert summary.events == 2 * counts.events
    assert summary.kernels == 2 * counts.kernels
    assert summary.comm_ops == 2 * counts.comm_kernels


def test_annotations_follow_the_naming_convention(tmp_path: Path) -> None:
    import duckdb

    synth.generate(tmp_path / "job", ranks=1, layers=2, steps=2)
    db = tmp_path / "t.duckdb"
    import_paths(db, [tmp_path / "job"])
    con = duckdb.connect(str(db), read_only=True)
    names = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT name FROM events WHERE kind = 'user_annotation'"
        ).fetchall()
    }
    overlap = con.execute("SELECT overlap_pct FROM overlap_by_rank").fetchall()
    con.close()
    assert {"tk:step=0 phase=prefill", "tk:step=1 phase=decode"} <= names
    assert {"tk:layer=0", "tk:layer=1", "tk:block=attention", "tk:block=mlp"} <= names
    assert {"tk:block=embedding", "tk:block=lm_head", "nccl:all_reduce"} <= names
    # the all-reduce partly overlaps the next block's kernels: neither 0 nor 100 %
    assert 0 < overlap[0][0] < 100


def test_size_target_is_met_roughly(tmp_path: Path) -> None:
    ((path, counts),) = synth.generate(tmp_path / "job", ranks=1, layers=4, size_mb=2)
    assert 1.5e6 < counts.bytes < 2.6e6
    assert path.stat().st_size == counts.bytes


@pytest.mark.parametrize("parsers", [1, 2])
def test_chunking_gives_the_same_rows_with_tiny_and_huge_blocks(
    tmp_path: Path, parsers: int
) -> None:
    ((path, counts),) = synth.generate(tmp_path / "job", ranks=1, layers=2, steps=2)

    def read(block: int) -> tuple[pa.Table, list[tuple]]:
        pool = ParserPool(parsers)
        try:
            _meta, chunks = read_kineto(path, block_bytes=block, pool=pool)
            parts = [(pa.table(c.events), c.threads) for c in chunks]
        finally:
            pool.close()
        return (
            pa.concat_tables([e for e, _ in parts]),
            [row for _, rows in parts for row in rows],
        )

    whole, whole_threads = read(1 << 30)
    small, small_threads = read(3000)
    assert whole.num_rows == small.num_rows == counts.events
    assert small.sort_by("event_id").equals(whole.sort_by("event_id"))
    assert len(small_threads) == len(whole_threads) == 5


def test_nsys_export_has_the_real_schema(tmp_path: Path) -> None:
    made = synth.generate(tmp_path / "job", ranks=1, layers=2, steps=2, fmt="nsys")
    path, counts = made[0]
    con = sqlite3.connect(path)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "CUPTI_ACTIVITY_KIND_KERNEL",
        "CUPTI_ACTIVITY_KIND_RUNTIME",
        "NVTX_EVENTS",
        "StringIds",
        "ThreadNames",
        "PROCESSES",
        "ANALYSIS_DETAILS",
        "META_DATA_EXPORT",
    } <= tables
    kernels = con.execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]
    nccl = con.execute(
        "SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL k JOIN StringIds s "
        "ON s.id = k.demangledName WHERE s.value LIKE 'ncclDevKernel%'"
    ).fetchone()[0]
    linked = con.execute(
        "SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL k JOIN CUPTI_ACTIVITY_KIND_RUNTIME r "
        "USING (correlationId)"
    ).fetchone()[0]
    ranges = con.execute(
        "SELECT count(*) FROM NVTX_EVENTS WHERE text LIKE 'tk:layer=%'"
    ).fetchone()[0]
    con.close()
    assert (kernels, nccl) == (counts.kernels, counts.comm_kernels)
    assert linked == kernels
    assert ranges == 2 * 2


def test_nsys_export_imports_with_the_expected_counts(tmp_path: Path) -> None:
    pytest.importorskip("tracekit.ingest.nsys")
    made = synth.generate(tmp_path / "job", ranks=2, layers=2, steps=2, fmt="nsys")
    counts = made[0][1]
    summary = import_paths(tmp_path / "t.duckdb", [tmp_path / "job"])
    assert summary.ranks == 2
    assert summary.kernels == 2 * counts.kernels
    assert summary.comm_ops == 2 * counts.comm_kernels
    assert summary.events == 2 * counts.events
