"""Bad Nsight Systems exports: an InputError naming the file, the table and the column,
never a traceback and never silently wrong figures, and the database byte-identical.

Every case starts from a small valid export (``tests/ingest/nsys_export.py``) and
damages it one way: empty, truncated, not SQLite, no nsys tables, wrong column
types, out-of-range numbers, NULLs, huge strings, duplicate ids, missing tables
and columns, ids that point nowhere, ranks that clash. One case runs the CLI
(exit 2, one paragraph, no traceback; ``--debug`` adds the traceback and keeps
the status); the others import in process, the same code path without starting
Python each time.
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.ingest.nsys_export import T0, Export
from tests.robustness.conftest import assert_clean_failure, digest, tk
from tracekit.errors import InputError
from tracekit.ingest.loader import import_paths

I64_MAX = (1 << 63) - 1
KERNELS = "CUPTI_ACTIVITY_KIND_KERNEL"
RUNTIME = "CUPTI_ACTIVITY_KIND_RUNTIME"


def good_export(path: Path, environment: str = "NCCL_DEBUG=INFO") -> Path:
    """One process (pid 42, GPU 0): two kernels with launches, NVTX ranges, a memcpy."""
    ex = Export(environment=environment)
    ex.process(42)
    base = T0 + 1_000_000
    ex.range(42, 42, base, base + 100_000, "step 0")
    ex.range(42, 42, base + 1_000, base + 40_000, "layer 0", registered=True, domain=1)
    ex.domain(42, 1, "NCCL")
    ex.launch(42, 42, base + 2_000, "void gemm_kernel<float>(float*)", 0)
    ex.launch(42, 42, base + 50_000, "ncclDevKernel_AllReduce_Sum_f32_RING_LL(x)", 0)
    ex.memcpy.append((base + 80_000, base + 81_000, 0, 7, None, (1 << 48) | (42 << 24), 64, 1))
    return ex.write(path)


def loosen(con: sqlite3.Connection, table: str) -> None:
    """Drop ``table``'s constraints (NOT NULL, PRIMARY KEY) so that a case can break them."""
    con.execute(f"CREATE TABLE _loose AS SELECT * FROM {table}")
    con.execute(f"DROP TABLE {table}")
    con.execute(f"ALTER TABLE _loose RENAME TO {table}")


def edit(*statements: str, loose: str | None = None) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        con = sqlite3.connect(path)
        if loose:
            loosen(con, loose)
        for sql in statements:
            con.execute(sql)
        con.commit()
        con.close()

    return apply


def replace_bytes(make: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        path.write_bytes(make(path.read_bytes()))

    return apply


# (case, damage done to a good export, words the one-paragraph message must hold)
CASES: list[tuple[str, Callable[[Path], None], tuple[str, ...]]] = [
    ("empty", replace_bytes(lambda b: b""), ("empty",)),
    ("truncated header", replace_bytes(lambda b: b[:100]), ("truncated or damaged",)),
    ("truncated at half", replace_bytes(lambda b: b[: len(b) // 2]), ("truncated or damaged",)),
    ("truncated at 90%", replace_bytes(lambda b: b[: len(b) * 9 // 10]), ("truncated",)),
    ("text", replace_bytes(lambda b: b"NCCL_DEBUG=INFO\n" * 500), ("not an SQLite database",)),
    ("random bytes", replace_bytes(lambda b: bytes(range(256)) * 40), ("not an SQLite",)),
    ("gzip", replace_bytes(gzip.compress), ("not an SQLite database",)),
    (
        "no nsys tables",
        edit(*(f"DROP TABLE {t}" for t in ("StringIds", "META_DATA_EXPORT", "NVTX_EVENTS"))),
        ("not an Nsight Systems export",),
    ),
    ("text in start", edit(f"UPDATE {KERNELS} SET start = 'abc'"), (KERNELS, "start", "'abc'")),
    ("real in end", edit(f'UPDATE {KERNELS} SET "end" = end + 0.5'), (KERNELS, "end")),
    (
        "text in deviceId",
        edit(f"UPDATE {KERNELS} SET deviceId = 'gpu0'"),
        (KERNELS, "deviceId", "not an integer"),
    ),
    (
        "blob in nameId",
        edit(f"UPDATE {RUNTIME} SET nameId = x'01'"),
        (RUNTIME, "nameId", "not an integer"),
    ),
    ("NULL start", edit(f"UPDATE {KERNELS} SET start = NULL", loose=KERNELS), (KERNELS, "start")),
    ("NULL end", edit(f'UPDATE {RUNTIME} SET "end" = NULL', loose=RUNTIME), (RUNTIME, "end")),
    (
        "NULL string id",
        edit("UPDATE StringIds SET id = NULL WHERE id = 1", loose="StringIds"),
        ("StringIds", "id", "NULL"),
    ),
    ("negative start", edit(f"UPDATE {KERNELS} SET start = -5"), (KERNELS, "start", "range")),
    ("INT64_MAX end", edit(f'UPDATE {KERNELS} SET "end" = {I64_MAX}'), (KERNELS, "end")),
    ("INT64_MIN start", edit(f"UPDATE {RUNTIME} SET start = {-I64_MAX - 1}"), (RUNTIME, "start")),
    (
        "end before start",
        edit(f'UPDATE {KERNELS} SET "end" = start - 1'),
        (KERNELS, "end", "before its start"),
    ),
    (
        "a 292-year span",
        edit(f'UPDATE {KERNELS} SET "end" = {(1 << 62) - 1} WHERE rowid = 2'),
        (KERNELS, "end", "row 2", "53,376 days"),
    ),
    (
        "device out of range",
        edit(f"UPDATE {KERNELS} SET deviceId = {1 << 40}"),
        (KERNELS, "deviceId", "range"),
    ),
    (
        "text session start",
        edit("UPDATE ANALYSIS_DETAILS SET startTime = 'soon'"),
        ("ANALYSIS_DETAILS", "startTime"),
    ),
    (
        "negative UTC epoch",
        edit("UPDATE TARGET_INFO_SESSION_START_TIME SET utcEpochNs = -1"),
        ("TARGET_INFO_SESSION_START_TIME", "utcEpochNs"),
    ),
    (
        "huge string",
        edit("UPDATE StringIds SET value = printf('%.*c', 2000000, 'x') WHERE id = 1"),
        ("StringIds", "value", "longer than"),
    ),
    (
        "duplicate string ids",
        edit("INSERT INTO StringIds SELECT id, value || '!' FROM StringIds", loose="StringIds"),
        ("StringIds", "id", "appears 2 times"),
    ),
    (
        "renamed kernel start",
        edit(f"ALTER TABLE {KERNELS} RENAME COLUMN start TO begin"),
        (KERNELS, "start"),
    ),
    (
        "renamed kernel names",
        edit(
            f"ALTER TABLE {KERNELS} RENAME COLUMN demangledName TO dn",
            f"ALTER TABLE {KERNELS} RENAME COLUMN shortName TO sn",
        ),
        (KERNELS, "demangledName"),
    ),
    (
        "renamed StringIds value",
        edit("ALTER TABLE StringIds RENAME COLUMN value TO text"),
        ("StringIds", "value"),
    ),
    (
        "renamed NVTX end",
        edit('ALTER TABLE NVTX_EVENTS RENAME COLUMN "end" TO e'),
        ("NVTX_EVENTS",),
    ),
    (
        "renamed NVTX text",
        edit("ALTER TABLE NVTX_EVENTS RENAME COLUMN text TO label"),
        ("NVTX_EVENTS", "text"),
    ),
    ("no kernel table", edit(f"DROP TABLE {KERNELS}"), ("no CUDA kernels",)),
    (
        "kernel name id not in StringIds",
        edit(f"UPDATE {KERNELS} SET demangledName = 999 WHERE rowid = 1"),
        (KERNELS, "demangledName", "999", "not in StringIds"),
    ),
    (
        "NVTX text id not in StringIds",
        edit("UPDATE NVTX_EVENTS SET textId = 777 WHERE textId IS NOT NULL"),
        ("NVTX_EVENTS", "textId", "777"),
    ),
    (
        "thread name id not in StringIds",
        edit("UPDATE ThreadNames SET nameId = 555"),
        ("ThreadNames", "nameId", "555"),
    ),
    (
        "RANK with Unicode digits",
        edit(
            "UPDATE TARGET_INFO_SYSTEM_ENV SET value = 'RANK=\u00b2' "
            "WHERE name = 'DeviceEnvironment'"
        ),
        ("TARGET_INFO_SYSTEM_ENV", "RANK"),
    ),
    (
        "RANK beyond int32",
        edit(
            "UPDATE TARGET_INFO_SYSTEM_ENV SET value = 'RANK=99999999999' "
            "WHERE name = 'DeviceEnvironment'"
        ),
        ("TARGET_INFO_SYSTEM_ENV", "RANK"),
    ),
    (
        "RANK outside WORLD_SIZE",
        edit(
            "UPDATE TARGET_INFO_SYSTEM_ENV SET value = 'RANK=4;WORLD_SIZE=2' "
            "WHERE name = 'DeviceEnvironment'"
        ),
        ("RANK=4", "WORLD_SIZE=2"),
    ),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding one good import, copied by each case."""
    base = tmp_path_factory.mktemp("store")
    db = base / "good.duckdb"
    import_paths(db, [good_export(base / "rank0.sqlite")], run="good")
    return db


def fresh_db(store: Path, tmp_path: Path) -> tuple[Path, str | None]:
    db = tmp_path / "t.duckdb"
    shutil.copyfile(store, db)
    return db, digest(db)


@pytest.mark.parametrize(("case", "damage", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_export_fails_cleanly(
    store: Path, tmp_path: Path, case: str, damage: Callable[[Path], None], words: tuple[str, ...]
) -> None:
    export = good_export(tmp_path / "rank1.sqlite")
    damage(export)
    db, before = fresh_db(store, tmp_path)
    with pytest.raises(InputError) as err:
        import_paths(db, [export], run="bad")
    text = " ".join(str(err.value).split())
    assert str(export) in text
    for word in words:
        assert word in text, f"{word!r} not in: {text}"
    assert "\n\n" not in str(err.value)
    assert digest(db) == before


def test_cli_exit_2_one_paragraph_and_debug_traceback(store: Path, tmp_path: Path) -> None:
    export = good_export(tmp_path / "rank1.sqlite")
    edit(f"UPDATE {KERNELS} SET start = 'abc'")(export)
    db, before = fresh_db(store, tmp_path)
    proc = tk("import", export, "--db", db)
    assert_clean_failure(proc, str(export), KERNELS, "start")
    debug = tk("--debug", "import", export, "--db", db)
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    assert digest(db) == before


def test_conflicting_ranks_from_the_environment(tmp_path: Path) -> None:
    exports = [
        good_export(tmp_path / name, environment="RANK=0;WORLD_SIZE=2")
        for name in ("a.sqlite", "b.sqlite")
    ]
    db = tmp_path / "t.duckdb"
    with pytest.raises(InputError, match="rank 0 of run .* is claimed twice"):
        import_paths(db, exports, run="r")
    assert not db.exists()  # a failed import into a new path leaves no file


def test_a_table_with_a_quote_in_its_name_is_read(tmp_path: Path) -> None:
    """Not 'truncated or damaged': other tables' names are quoted as identifiers."""
    export = good_export(tmp_path / "rank0.sqlite")
    edit('CREATE TABLE "a""b" (x INTEGER)')(export)
    db = tmp_path / "t.duckdb"
    import_paths(db, [export])
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM events WHERE kind = 'kernel'").fetchone() == (2,)
    con.close()


def test_a_missing_nvtx_domain_is_named_by_its_id(tmp_path: Path) -> None:
    """Accepted, as documented: a domain without its create row reads 'domain<id>'."""
    export = good_export(tmp_path / "rank0.sqlite")
    edit("DELETE FROM NVTX_EVENTS WHERE eventType = 75")(export)
    db = tmp_path / "t.duckdb"
    import_paths(db, [export])
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT domain FROM events WHERE name = 'layer 0'").fetchall() == [
        ("domain1",)
    ]
    con.close()
