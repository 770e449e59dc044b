"""The nsys importer on small exports the tests build (documented layout)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from tests.ingest.nsys_export import FAKE_TOKEN, T0, UTC, Export, nccl_blob, two_process_export
from tracekit.errors import InputError
from tracekit.ingest.loader import import_paths
from tracekit.ingest.nsys_env import safe_env
from tracekit.ingest.nsys_payload import message_sizes
from tracekit.ingest.ranks import parse_rank_map


def _import(tmp_path: Path, export: Path, **kw) -> duckdb.DuckDBPyConnection:
    db = tmp_path / "t.duckdb"
    import_paths(db, [export], **kw)
    return duckdb.connect(str(db), read_only=True)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


@pytest.fixture
def two_proc(tmp_path: Path) -> Path:
    folder = tmp_path / "job"
    folder.mkdir()
    return two_process_export().write(folder / "job.sqlite")


def test_two_processes_become_two_ranks(tmp_path: Path, two_proc: Path) -> None:
    con = _import(tmp_path, two_proc, rank_map=["job.sqlite:100=0,200=1"])
    assert _rows(
        con,
        "SELECT rank, process_id, rank_source, format, host, gpu_names FROM traces ORDER BY rank",
    ) == [
        (0, 100, "option", "nsys", "node7", ["NVIDIA H100"]),
        (1, 200, "option", "nsys", "node7", ["NVIDIA H100"]),
    ]
    kinds = _rows(
        con,
        "SELECT t.rank, kind, count(*), count(pid), count(device) FROM events "
        "JOIN traces t USING (trace_id) GROUP BY ALL ORDER BY ALL",
    )
    assert kinds == [
        (rank, kind, n, n if cpu else 0, 0 if cpu else n)
        for rank in (0, 1)
        for kind, n, cpu in (
            ("cuda_runtime", 2, True),
            ("gpu_memcpy", 1, False),
            ("gpu_memset", 1, False),
            ("instant", 1, True),
            ("kernel", 2, False),
            ("user_annotation", 3, True),
        )
    ]
    # globalTid decoded, threads and process names kept
    assert _rows(
        con, "SELECT DISTINCT pid, tid FROM events WHERE kind = 'cuda_runtime' ORDER BY 1"
    ) == [(100, 100), (200, 200)]
    assert _rows(
        con, "SELECT pid, tid, name FROM threads WHERE pid = 100 ORDER BY tid NULLS FIRST"
    ) == [(100, None, "python3"), (100, 100, "python3"), (100, 101, "worker")]
    # names: demangled + short; runtime version suffix dropped; registered strings resolved
    assert _rows(
        con,
        "SELECT DISTINCT name, short_name FROM events WHERE kind = 'kernel' AND name LIKE 'void%'",
    ) == [("void gemm_kernel<float>(float*)", "void gemm_kernel<float>")]
    assert _rows(con, "SELECT DISTINCT name FROM events WHERE kind = 'cuda_runtime'") == [
        ("cudaLaunchKernel",)
    ]
    assert {r[0] for r in _rows(con, "SELECT name FROM events WHERE kind = 'gpu_memcpy'")} == {
        "Memcpy HtoD"
    }


def test_domains_named_or_by_id(tmp_path: Path, two_proc: Path) -> None:
    con = _import(tmp_path, two_proc, rank_map=["100=0,200=1"])
    assert _rows(
        con,
        "SELECT t.rank, e.name, e.domain FROM events e JOIN traces t "
        "USING (trace_id) WHERE e.name = 'ncclAllReduce' ORDER BY 1",
    ) == [(0, "ncclAllReduce", "NCCL"), (1, "ncclAllReduce", "domain1")]
    assert _rows(con, "SELECT DISTINCT domain FROM events WHERE name = 'step 0'") == [(None,)]


def test_times_aligned_to_utc(tmp_path: Path, two_proc: Path) -> None:
    con = _import(tmp_path, two_proc, rank_map=["100=0,200=1"])
    origin = _rows(con, "SELECT origin_ns FROM runs")[0][0]
    first = T0 + 1_000_000  # the first event: the 'step 0' range
    assert origin == UTC + (first - T0)
    assert _rows(con, "SELECT min(ts_ns) FROM events")[0][0] == 0
    assert _rows(con, "SELECT ts_ns FROM events WHERE name LIKE 'void gemm%' LIMIT 1")[0][0] == (
        2_100
    )


def test_nvtx_projected_onto_kernels(tmp_path: Path, two_proc: Path) -> None:
    con = _import(tmp_path, two_proc, rank_map=["100=0,200=1"])
    got = _rows(
        con,
        """
        SELECT t.rank, k.short_name, a.name, a.domain, a.depth, a.inner_rank
        FROM event_annotations a JOIN events k USING (trace_id, event_id)
        JOIN traces t USING (trace_id) WHERE t.rank = 0 ORDER BY 2, a.inner_rank""",
    )
    assert got == [
        (0, "ncclDevKernel_AllReduce_Sum_bf16_RING_LL", "ncclAllReduce", "NCCL", 1, 1),
        (0, "ncclDevKernel_AllReduce_Sum_bf16_RING_LL", "step 0", None, 0, 2),
        (0, "void gemm_kernel<float>", "layer 0", None, 1, 1),
        (0, "void gemm_kernel<float>", "step 0", None, 0, 2),
    ]


def test_nccl_message_size_from_payload(tmp_path: Path, two_proc: Path) -> None:
    con = _import(tmp_path, two_proc, rank_map=["100=0,200=1"])
    assert _rows(con, "SELECT DISTINCT bytes FROM events WHERE name = 'ncclAllReduce'") == [(4096,)]
    assert _rows(con, "SELECT rank, op, library, dtype, msg_bytes FROM comm_ops ORDER BY 1") == [
        (0, "all_reduce", "nccl", "bf16", 4096),
        (1, "all_reduce", "nccl", "bf16", 4096),
    ]


def test_no_blobs_means_null_sizes(tmp_path: Path) -> None:
    ex = two_process_export()
    ex.nvtx = [row[:-1] + (None,) for row in ex.nvtx]
    con = _import(tmp_path, ex.write(tmp_path / "x.sqlite"), rank_map=["100=0,200=1"])
    assert _rows(con, "SELECT count(msg_bytes), count(*) FROM comm_ops") == [(0, 2)]


def test_payload_decoding_layout() -> None:
    import pyarrow as pa

    blobs = pa.array(
        [
            nccl_blob(123),
            None,
            nccl_blob(77, offset=8),
            nccl_blob(5)[:40],
            nccl_blob(9, schema=42),
            b"short",
            nccl_blob(11, domain=2),
        ],
        pa.binary(),
    )
    sizes = message_sizes(blobs, {(1, (1 << 24) + 6): 8}).to_pylist()
    assert sizes == [123, None, 77, None, None, None, None]


def test_schema_ids_are_per_domain() -> None:
    """The same schemaId in two domains: each blob reads its own domain's offset."""
    import pyarrow as pa

    blobs = pa.array([nccl_blob(123, domain=1), nccl_blob(456, domain=2)], pa.binary())
    assert message_sizes(blobs, {(1, (1 << 24) + 6): 8, (2, (1 << 24) + 6): 0}).to_pylist() == [
        123,
        0xC0FFEE,
    ]


def test_null_entry_offset_skips_the_size(tmp_path: Path, two_proc: Path) -> None:
    """NCCL >= 2.23 payloads start with the communicator id: a NULL offset must not read 0."""
    path = tmp_path / "null_offset.sqlite"
    path.write_bytes(two_proc.read_bytes())
    with closing(sqlite3.connect(path)) as con, con:
        con.execute("UPDATE NVTX_PAYLOAD_SCHEMA_ENTRIES SET offset = NULL")
    con = _import(tmp_path, path, rank_map=["100=0,200=1"])
    assert _rows(con, "SELECT count(bytes) FROM events WHERE name = 'ncclAllReduce'") == [(0,)]
    assert _rows(con, "SELECT count(msg_bytes), count(*) FROM comm_ops") == [(0, 2)]


def test_several_processes_without_rank_is_an_error(tmp_path: Path, two_proc: Path) -> None:
    with pytest.raises(InputError, match=r"2 processes with GPU work.*pid 100 on GPU 0") as err:
        _import(tmp_path, two_proc)
    assert "--rank-map 'job.sqlite:100=0,200=1'" in str(err.value)


def test_rank_from_allowed_environment(tmp_path: Path) -> None:
    ex = two_process_export()
    ex.kernels = [k for k in ex.kernels if k[2] == 0]
    ex.environment = f"RANK=3;WORLD_SIZE=8;HF_TOKEN={FAKE_TOKEN}"
    con = _import(tmp_path, ex.write(tmp_path / "one.sqlite"))
    assert _rows(
        con, "SELECT rank, rank_source, world_size, source_meta->>'$.environment' FROM traces"
    ) == [(3, "environment", 8, '{"RANK":"3","WORLD_SIZE":"8"}')]


def test_env_allow_list_drops_credentials() -> None:
    kept = safe_env(
        [
            "NCCL_DEBUG=INFO;NCCL_IB_HCA=mlx5_0,mlx5_1;CUDA_VISIBLE_DEVICES=0,1;HOME=/root;"
            "HF_TOKEN=hf_x;NCCL_AUTH_KEY=k;NCCL_X=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;RANK=1",
            "MASTER_ADDR=10.0.0.1\nWANDB_API_KEY=abc",
        ]
    )
    assert kept == {
        "NCCL_DEBUG": "INFO",
        "NCCL_IB_HCA": "mlx5_0,mlx5_1",
        "CUDA_VISIBLE_DEVICES": "0,1",
        "RANK": "1",
        "MASTER_ADDR": "10.0.0.1",
    }


def test_rank_map_parsing() -> None:
    assert parse_rank_map(["a.sqlite:1=0,2=1", "7=3"]) == {
        ("a.sqlite", 1): 0,
        ("a.sqlite", 2): 1,
        (None, 7): 3,
    }
    with pytest.raises(InputError, match="PID=RANK"):
        parse_rank_map(["a.sqlite:1-0"])


def _snapshot(db: Path) -> list:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [
            _rows(con, f"SELECT count(*) FROM {t}") for t in ("traces", "events", "threads", "runs")
        ]
    finally:
        con.close()


@pytest.mark.parametrize("case", ["not_sqlite", "not_nsys", "truncated", "no_kernels"])
def test_bad_input_is_clear_and_leaves_db_unchanged(tmp_path: Path, case: str) -> None:
    db = tmp_path / "t.duckdb"
    good = two_process_export().write(tmp_path / "good.sqlite")
    import_paths(db, [good], rank_map=["100=0,200=1"], run="good")
    before = _snapshot(db)
    bad = tmp_path / f"{case}.sqlite"
    if case == "not_sqlite":
        bad.write_text("this is not a database\n" * 100)
        expected = "not an SQLite database"
    elif case == "not_nsys":
        con = sqlite3.connect(bad)
        con.execute("CREATE TABLE t (x INTEGER)")
        con.commit()
        con.close()
        expected = "not an Nsight Systems export"
    elif case == "truncated":
        data = good.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
        expected = "truncated or damaged"
    else:
        ex = two_process_export()
        ex.kernels = []
        ex.write(bad)
        expected = "no CUDA kernels"
    with pytest.raises(InputError, match=expected) as err:
        import_paths(db, [good.parent / "good.sqlite", bad], rank_map=["100=0,200=1"], replace=True)
    assert str(bad) in str(err.value)
    assert _snapshot(db) == before


def test_missing_tables_and_columns_are_optional(tmp_path: Path) -> None:
    ex = Export()
    ex.process(5)
    ex.launch(5, 5, T0 + 10, "k()", 0)
    path = ex.write(tmp_path / "rank2.sqlite", with_meta=False)
    con = sqlite3.connect(path)
    for table in (
        "NVTX_EVENTS",
        "CUPTI_ACTIVITY_KIND_MEMCPY",
        "CUPTI_ACTIVITY_KIND_MEMSET",
        "ThreadNames",
        "NVTX_PAYLOAD_SCHEMA_ENTRIES",
    ):
        con.execute(f"DROP TABLE {table}")
    con.execute("ALTER TABLE CUPTI_ACTIVITY_KIND_KERNEL DROP COLUMN streamId")
    con.execute("ALTER TABLE CUPTI_ACTIVITY_KIND_RUNTIME DROP COLUMN eventClass")
    con.commit()
    con.close()
    duck = _import(tmp_path, path)
    assert _rows(duck, "SELECT rank, rank_source FROM traces") == [(2, "filename")]
    assert _rows(
        duck, "SELECT kind, name, device, stream, correlation FROM events ORDER BY kind"
    ) == [
        ("cuda_runtime", "cudaLaunchKernel", None, None, 1),
        ("kernel", "k()", 0, None, 1),
    ]


def test_secret_never_stored(tmp_path: Path, two_proc: Path) -> None:
    db = tmp_path / "t.duckdb"
    import_paths(db, [two_proc], rank_map=["100=0,200=1"])
    assert FAKE_TOKEN.encode() not in db.read_bytes()


@pytest.mark.slow
def test_bulk_read_of_200k_kernels(tmp_path: Path) -> None:
    """200k kernels with their launches and 20k ranges all arrive in the chunks (its speed is
    measured by benchmarks/nsys_import.py, not asserted here)."""
    from tests.ingest.nsys_export import synthetic_export
    from tracekit.ingest.discover import Source
    from tracekit.ingest.nsys import read_nsys

    kernels = 200_000
    path = synthetic_export(tmp_path / "big.sqlite", kernels)
    traces = read_nsys(Source(path, "nsys", "big", None), "x", lambda _: None)
    rows = sum(chunk.rows for t in traces for chunk in t.chunks)
    assert rows == 2 * kernels + kernels // 10


def test_start_end_ranges_that_overlap_without_nesting(tmp_path: Path) -> None:
    ex = Export()
    ex.process(9)
    base = T0 + 10_000
    ex.range(9, 9, base, base + 10_000, "outer")  # push/pop
    ex.range(9, 9, base + 1_000, base + 6_000, "S1", event_type=60)
    ex.range(9, 9, base + 3_000, base + 9_000, "S2", event_type=60)
    ex.range(9, 9, base + 6_500, base + 8_000, "inner")  # push/pop, after S1 ended
    ex.launch(9, 9, base + 4_000, "a()", 0)  # inside outer, S1, S2
    ex.launch(9, 9, base + 7_000, "b()", 0)  # inside outer, S2, inner
    con = _import(tmp_path, ex.write(tmp_path / "rank0.sqlite"))
    got = _rows(
        con,
        "SELECT k.name, a.name, a.inner_rank FROM event_annotations a "
        "JOIN events k USING (trace_id, event_id) ORDER BY 1, 3",
    )
    assert got == [
        ("a()", "S2", 1),
        ("a()", "S1", 2),
        ("a()", "outer", 3),
        ("b()", "inner", 1),
        ("b()", "S2", 2),
        ("b()", "outer", 3),
    ]


def test_bulk_read_types_come_from_the_fields(tmp_path: Path) -> None:
    """SQLite is dynamically typed: a column NULL in its first rows (past the driver's
    default batch), text in an integer column and a missing column read as their fields."""
    import pyarrow as pa

    from tracekit.ingest.nsys_sqlite import ExportTables, Field

    path = tmp_path / "types.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE StringIds (id, value)")
    rows = [(None, None)] * 5000 + [("7", "late text"), (8, 9)]
    con.executemany("INSERT INTO StringIds VALUES (?, ?)", rows)
    con.commit()
    con.close()
    path.chmod(0o444)
    fields = [("id", pa.int64()), ("value", pa.string()), ("absent", pa.float64())]
    got = ExportTables(path).read("StringIds", [Field(name, kind) for name, kind in fields])
    assert got.schema == pa.schema([("_ord", pa.int64()), *fields])
    assert got.slice(5000).to_pylist() == [
        {"_ord": 5001, "id": 7, "value": "late text", "absent": None},
        {"_ord": 5002, "id": 8, "value": "9", "absent": None},
    ]
    assert got.num_rows == 5002 and got.column("id").null_count == 5000


def test_missing_adbc_driver_says_how_to_install(
    tmp_path: Path, two_proc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracekit.errors import TracekitError
    from tracekit.ingest import nsys_sqlite

    monkeypatch.setattr(nsys_sqlite, "adbc_sqlite", None)
    with pytest.raises(TracekitError, match="adbc-driver-sqlite"):
        nsys_sqlite.ExportTables(two_proc)


def test_export_in_read_only_folder_with_uri_characters(tmp_path: Path, two_proc: Path) -> None:
    """'#', '?', '%' and spaces in the path are not URI syntax; nothing is written."""
    folder = tmp_path / "ro #dir?x%20"
    folder.mkdir()
    export = folder / "a b#1.sqlite"
    export.write_bytes(two_proc.read_bytes())
    export.chmod(0o444)
    folder.chmod(0o555)
    try:
        con = _import(tmp_path, export, rank_map=["100=0,200=1"])
        assert _rows(con, "SELECT count(*) > 0 FROM events WHERE kind = 'kernel'") == [(True,)]
        assert sorted(p.name for p in folder.iterdir()) == ["a b#1.sqlite"]
        assert export.read_bytes() == two_proc.read_bytes()
    finally:
        folder.chmod(0o755)


def test_shaping_sql_is_fixed_text() -> None:
    """Every statement runs as written (issue 16: no values spliced in with str.replace)."""
    import re

    import pyarrow as pa

    from tracekit.ingest import nsys_sql, nsys_tables
    from tracekit.resources import queries_dir

    con = duckdb.connect()
    con.execute((queries_dir() / "schema" / "03_events.sql").read_text())
    con.execute(nsys_sql.CREATE_EV)
    con.execute("SET VARIABLE t0 = 0")
    con.execute("SET VARIABLE utc = 0")

    def empty(fields: list, *extra: tuple) -> pa.Table:
        return pa.schema([("_ord", pa.int64()), *((f.name, f.kind) for f in fields), *extra])

    for name, fields, extra in (
        ("strings_raw", nsys_tables.STRINGS, ()),
        ("kernel_raw", nsys_tables.KERNEL, ()),
        ("runtime_raw", nsys_tables.RUNTIME, ()),
        ("memcpy_raw", nsys_tables.MEMCPY, ()),
        ("memset_raw", nsys_tables.MEMSET, ()),
        ("nvtx_raw", nsys_tables.NVTX, (("_bytes", pa.int64()),)),
        ("thread_raw", nsys_tables.THREADS, ()),
        ("process_raw", nsys_tables.PROCESSES, ()),
    ):
        con.register(name, empty(fields, *extra).empty_table())
    for sql in (
        nsys_sql.STRINGS,
        nsys_sql.KERNELS,
        nsys_sql.RUNTIME,
        nsys_sql.MEMCPY,
        nsys_sql.MEMSET,
        nsys_sql.NVTX,
        nsys_sql.THREAD_NAMES,
        nsys_sql.PROCESS_NAMES,
    ):
        assert not re.search(r"\$\w|\{\w", sql)  # no $first, {g} placeholders
        con.execute(sql)
    for view in ("kernel_ev", "runtime_ev", "memcpy_ev", "memset_ev", "nvtx_ev"):
        assert con.execute(f"SELECT count(*) FROM {view}").fetchone() == (0,)
