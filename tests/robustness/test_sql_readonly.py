"""`tracekit sql` only reads: no statement writes a file, reads one outside the store, or
reaches for an extension — on a database and on a Parquet dataset.

Each attack must exit 2 with one paragraph naming the database (or dataset), leave the
database and the dataset byte-identical, and create no file. The TUI's SQL screen runs on
a connection from the same door (``store.connect(read_only=True)``); the last test runs
the attacks there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.kineto import Trace
from tests.robustness.conftest import assert_clean_failure, cli, digest, tk
from tracekit import store
from tracekit.errors import InputError

SECRET = "secret-of-the-host"


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database, a Parquet dataset of the same run, another DuckDB file and a secret file."""
    root = tmp_path_factory.mktemp("readonly")
    trace = Trace(rank=0, world_size=1)
    trace.annotation("tk:step=0 phase=prefill", 0, 200).kernel("gemm", 100, 40, launch_ts=1)
    trace.write(root / "traces")
    proc = cli("import", root / "traces", "--db", root / "t.duckdb", "--parquet", root / "ds")
    assert proc.returncode == 0, proc.stderr
    other = duckdb.connect(str(root / "other.duckdb"))
    other.execute("CREATE TABLE kept (x INTEGER)")
    other.close()
    (root / "secret.txt").write_text(SECRET)
    return root


def _state(root: Path) -> dict[str, str | None]:
    """Every file under ``root`` and its digest."""
    return {str(p.relative_to(root)): digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


def attacks(root: Path, inside: Path) -> dict[str, str]:
    """SQL that would write or read outside the store; ``inside``: a folder it may read."""
    return {
        "copy to": f"COPY (SELECT 1) TO '{root}/out.csv'",
        "copy into the dataset": f"COPY (SELECT 1 AS x) TO '{inside}/events/x.parquet'",
        "export database": f"EXPORT DATABASE '{root}/exported'",
        "profiling output": f"PRAGMA profiling_output = '{root}/profile.json'",
        "profiling on": "PRAGMA enable_profiling",
        "attach read_write": f"ATTACH '{root}/other.duckdb' AS o (READ_WRITE)",
        "attach new": f"ATTACH '{inside}/new.duckdb' AS n",
        "read_text": f"SELECT * FROM read_text('{root}/secret.txt')",
        "read /etc": "SELECT * FROM read_text('/etc/passwd')",
        "read_csv": f"SELECT * FROM read_csv('{root}/secret.txt')",
        "glob": f"SELECT * FROM glob('{root}/*')",
        "install": "INSTALL httpfs",
        "load": "LOAD httpfs",
        "external access back on": "SET enable_external_access = true",
        "create": "CREATE TABLE mine AS SELECT 1",
        "update": "UPDATE runs SET world_size = 0",
        "second statement": f"SELECT 1; COPY (SELECT 1) TO '{root}/two.csv'",
    }


ATTACKS = list(attacks(Path("/r"), Path("/d")))


@pytest.mark.parametrize("name", ATTACKS)
def test_sql_on_a_database_refuses(name: str, place: Path) -> None:
    before = _state(place)
    sql = attacks(place, place / "ds")[name]
    proc = cli("sql", "--db", place / "t.duckdb", sql)
    assert_clean_failure(proc, "t.duckdb")
    assert SECRET not in proc.stdout + proc.stderr
    assert _state(place) == before


@pytest.fixture(scope="module")
def dataset(place: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """One session over the dataset (building its views takes a while) for every attack."""
    con = store.connect(parquet=place / "ds")
    yield con
    con.close()


@pytest.mark.parametrize("name", ATTACKS)
def test_sql_on_a_dataset_refuses(
    name: str, place: Path, dataset: duckdb.DuckDBPyConnection
) -> None:
    before = _state(place)
    with pytest.raises(InputError) as refused:
        store.run_query(dataset, attacks(place, place / "ds")[name]).fetchall()
    assert str(place / "ds") in refused.value.message and SECRET not in str(refused.value)
    assert _state(place) == before
    assert dataset.execute("SELECT count(*) FROM events").fetchall() == [(3,)]


def test_sql_on_a_dataset_refuses_through_the_cli(place: Path) -> None:
    before = _state(place)
    proc = cli("sql", "--parquet", place / "ds", f"COPY (SELECT 1) TO '{place}/ds/x.parquet'")
    assert_clean_failure(proc, "ds", "refused")
    assert _state(place) == before


def test_queries_still_run(place: Path) -> None:
    """What the lock-down keeps: queries over every view, on the file and on the dataset."""
    query = "SELECT count(*) AS n FROM events"
    on_db = cli("sql", "--db", place / "t.duckdb", query, "--format", "json")
    on_ds = cli("sql", "--parquet", place / "ds", query, "--format", "json")
    assert on_db.returncode == on_ds.returncode == 0, on_db.stderr + on_ds.stderr
    assert json.loads(on_db.stdout) == json.loads(on_ds.stdout) == [{"n": 3}]
    explain = cli("sql", "--db", place / "t.duckdb", "EXPLAIN SELECT * FROM overlap_by_rank")
    assert explain.returncode == 0, explain.stderr


def test_no_progress_bar_reaches_the_output(place: Path) -> None:
    """DuckDB draws a progress bar on stdout for slow queries; the door turns it off for good."""
    for con in (
        store.connect(place / "t.duckdb", read_only=True),
        store.connect(parquet=place / "ds", read_only=True),
    ):
        try:
            setting = "SELECT current_setting('enable_progress_bar')"
            assert con.execute(setting).fetchone() == (False,)
        finally:
            con.close()


def test_a_refusal_through_the_real_cli(place: Path) -> None:
    before = _state(place)
    proc = tk("sql", "--db", place / "t.duckdb", f"COPY (SELECT 1) TO '{place}/out.csv'")
    assert_clean_failure(proc, "t.duckdb", "refused")
    assert _state(place) == before


def test_parquet_option_names_a_folder(place: Path) -> None:
    proc = cli("sql", "--parquet", place / "secret.txt", "SELECT 1")
    assert_clean_failure(proc, "secret.txt", "not a Parquet dataset folder")


def test_sql_file_that_is_binary(place: Path, tmp_path: Path) -> None:
    binary = tmp_path / "q.sql"
    binary.write_bytes(b"SELECT 1\xff\xfe\x00")
    proc = cli("sql", "--db", place / "t.duckdb", "--file", binary)
    assert_clean_failure(proc, "q.sql", "not SQL text")


@pytest.mark.parametrize("name", ATTACKS)
def test_the_tui_connection_refuses(name: str, place: Path) -> None:
    """The TUI's SQL screen runs SQL on a cursor of the read-only door's connection:
    DuckDB's own settings refuse each attack there, before any check of tracekit's."""
    before = _state(place)
    con = store.connect(place / "t.duckdb", read_only=True)
    try:
        with pytest.raises(duckdb.Error):
            con.cursor().execute(attacks(place, place / "ds")[name])
    finally:
        con.close()
    assert _state(place) == before


def test_two_read_only_connections_to_one_file(place: Path) -> None:
    """The TUI beside another reader in one process: the second shares the first's locked
    configuration (one DuckDB instance per file) and opens."""
    first = store.connect(place / "t.duckdb", read_only=True)
    try:
        second = store.connect(place / "t.duckdb", read_only=True)
        try:
            assert second.execute("SELECT count(*) FROM runs").fetchone() == (1,)
            with pytest.raises(duckdb.Error):
                second.execute("SET enable_external_access = true")
        finally:
            second.close()
    finally:
        first.close()
