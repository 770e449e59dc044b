"""A bad ``--db`` for every command, and imports that fail: exit 2, one paragraph, nothing changed.

Every command that takes ``--db`` is run on one list of files that are not a tracekit
database (``BAD_DB``): each must refuse it naming the file, leave it byte-identical and
create nothing beside it. Imports that fail (a conflict found after every event was
streamed, a disk that fills, a folder that cannot be written) leave the database as it
was: no file at all for a new path, the same bytes for an existing one.

Most cases run the CLI in this process (``cli``); the subprocess path is covered by
``test_debug_prints_the_traceback_and_keeps_status_2`` and the lock and kill tests.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.kineto import Trace
from tests.robustness.conftest import TRACEKIT, assert_clean_failure, cli, digest, tk
from tracekit.ingest.loader import import_paths


def _trace(folder: Path, rank: int = 0, name: str = "gemm") -> Path:
    trace = Trace(rank=rank, world_size=2)
    trace.annotation("tk:step=0 phase=prefill", 0, 200)
    trace.kernel(name, 100, 40, launch_ts=1)
    return trace.write(folder)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Traces that import, traces that fail at the end (rank 0 twice), a store, a rules CSV."""
    root = tmp_path_factory.mktemp("store_bad")
    _trace(root / "good")
    _trace(root / "clash" / "a", name="a")
    _trace(root / "clash" / "b", name="b")
    rules = root / "rules.csv"
    rules.write_text(
        "rule_id,priority,kinds,pattern,library,op,captures,note\n"
        "mine,1,kernel,^mine$,test,all_reduce,,a rule\n"
    )
    store = root / "store.duckdb"
    import_paths(store, [root / "good"], run="r")
    return {"good": root / "good", "clash": root / "clash", "rules": rules, "store": store}


def _clash(made: dict[str, Path]) -> list[str]:
    """An import that streams every event, then fails: two traces claim rank 0 of one run."""
    return ["import", str(made["clash"]), "--run", "clash"]


def _copy(made: dict[str, Path], target: Path) -> Path:
    target.write_bytes(made["store"].read_bytes())
    return target


# --- a bad --db, for every command that takes one ------------------------------------------

COMMANDS: dict[str, Callable[[Path, dict[str, Path]], list[str | Path]]] = {
    "import": lambda db, m: ["import", m["good"], "--db", db],
    "sql": lambda db, m: ["sql", "--db", db, "SELECT 1"],
    "report": lambda db, m: ["report", "--db", db],
    "tui": lambda db, m: ["tui", "--db", db],
    "validate": lambda db, m: ["validate", "--db", db, "--run", "r"],
    "rules list": lambda db, m: ["rules", "list", "--db", db],
    "rules add": lambda db, m: ["rules", "add", m["rules"], "--db", db],
}


def _sqlite(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE events (ts INTEGER)")
    con.commit()
    con.close()


def _foreign_duckdb(path: Path) -> None:
    """A DuckDB file of someone else's, with a table named like tracekit's."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE events (ts_ns BIGINT, name VARCHAR)")
    con.execute("INSERT INTO events VALUES (1, 'theirs')")
    con.close()


def _parquet(path: Path) -> None:
    duckdb.connect().execute(f"COPY (SELECT 1 AS x) TO '{path}' (FORMAT parquet)")


BAD_DB: dict[str, tuple[str, Callable[[Path], object] | None]] = {
    "missing": ("gone.duckdb", None),
    "folder": ("folder.duckdb", lambda p: p.mkdir()),
    "csv": ("data.csv", lambda p: p.write_text("a,b\n1,2\n")),
    "json": ("data.json", lambda p: p.write_text('{"traceEvents": []}')),
    "parquet": ("data.parquet", _parquet),
    "sqlite": ("data.sqlite", _sqlite),
    "random bytes": ("noise.duckdb", lambda p: p.write_bytes(random.Random(0).randbytes(8192))),
    "empty file": ("empty.duckdb", lambda p: p.write_bytes(b"")),
    "foreign duckdb": ("theirs.duckdb", _foreign_duckdb),
    "fifo": ("pipe.duckdb", os.mkfifo),  # reading it would wait forever
}


def _listing(folder: Path) -> dict[str, str | None]:
    return {p.name: digest(p) if p.is_file() else "other" for p in sorted(folder.iterdir())}


# import creates a missing database (tested below)
CASES = [(c, k) for c in COMMANDS for k in BAD_DB if (c, k) != ("import", "missing")]


@pytest.mark.parametrize(("command", "kind"), CASES)
def test_every_command_refuses_a_bad_db(
    command: str, kind: str, made: dict[str, Path], tmp_path: Path
) -> None:
    name, make = BAD_DB[kind]
    folder = tmp_path / "here"
    folder.mkdir()
    db = folder / name
    if make is not None:
        make(db)
    before = _listing(folder)
    proc = cli(*COMMANDS[command](db, made))
    assert_clean_failure(proc, name)
    assert _listing(folder) == before  # same bytes, nothing created beside it


def test_rules_add_never_creates_a_database(made: dict[str, Path], tmp_path: Path) -> None:
    proc = cli("rules", "add", made["rules"], "--db", tmp_path / "typo.duckdb")
    assert_clean_failure(proc, "typo.duckdb", "no such database")
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_duckdb_file_is_named_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "theirs.duckdb"
    _foreign_duckdb(db)
    proc = cli("sql", "--db", db, "SELECT * FROM events")
    assert_clean_failure(proc, "theirs.duckdb", "not a tracekit database", "events")


def test_an_sqlite_path_loads_no_extension(tmp_path: Path) -> None:
    """DuckDB would install sqlite_scanner from the network to open it: refused before."""
    db = tmp_path / "x.sqlite"
    _sqlite(db)
    proc = cli("sql", "--db", db, "SELECT 1")
    assert_clean_failure(proc, "x.sqlite", "not a DuckDB database", "SQLite")
    home = Path.home() / ".duckdb" / "extensions"
    assert not list(home.glob("**/sqlite_scanner*"))


def test_debug_prints_the_traceback_and_keeps_status_2(tmp_path: Path) -> None:
    db = tmp_path / "data.csv"
    db.write_text("a,b\n1,2\n")
    plain = tk("sql", "--db", db, "SELECT 1")
    assert_clean_failure(plain, "data.csv")
    debug = tk("--debug", "sql", "--db", db, "SELECT 1")
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr and "InputError" in debug.stderr
    assert plain.stderr.strip() in debug.stderr


# --- imports that fail change nothing --------------------------------------------------------


def test_a_failed_import_into_a_new_path_leaves_no_file(
    made: dict[str, Path], tmp_path: Path
) -> None:
    db = tmp_path / "new.duckdb"
    proc = cli(*_clash(made), "--db", db)
    assert_clean_failure(proc, "claimed twice")
    assert list(tmp_path.iterdir()) == []  # no database, no staging file


@pytest.mark.parametrize("with_db", [True, False])
def test_a_failed_import_leaves_no_new_dataset_folder(
    with_db: bool, made: dict[str, Path], tmp_path: Path
) -> None:
    db = ["--db", tmp_path / "new.duckdb"] if with_db else []
    proc = cli(*_clash(made), *db, "--parquet", tmp_path / "shared" / "ds")
    assert_clean_failure(proc, "claimed twice")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_import_into_a_plain_duckdb_file_adds_no_tables(
    made: dict[str, Path], tmp_path: Path
) -> None:
    db = tmp_path / "plain.duckdb"
    duckdb.connect(str(db)).close()
    before = digest(db)
    assert_clean_failure(cli(*_clash(made), "--db", db), "claimed twice")
    assert digest(db) == before
    tables = duckdb.connect(str(db), read_only=True).execute("SHOW TABLES").fetchall()
    assert tables == []


def test_a_failed_import_into_an_older_store_keeps_its_fingerprint(
    made: dict[str, Path], tmp_path: Path
) -> None:
    db = _copy(made, tmp_path / "old.duckdb")
    con = duckdb.connect(str(db))
    con.execute("UPDATE tracekit_meta SET value = 'older' WHERE key = 'fingerprint'")
    con.close()
    before = digest(db)
    assert_clean_failure(cli(*_clash(made), "--db", db), "claimed twice")
    assert digest(db) == before
    # a successful import does bring the store up to date
    assert cli("import", made["clash"] / "a", "--run", "later", "--db", db).returncode == 0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT value FROM tracekit_meta WHERE key = 'fingerprint'").fetchall() != [
        ("older",)
    ]


def _limited(limit: int) -> Callable[[], None]:
    """A child process whose files cannot grow beyond ``limit`` bytes: a disk that is full."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _run_limited(limit: int, *args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*TRACEKIT, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=_limited(limit),
        timeout=120,
    )


def test_a_full_disk_leaves_no_new_file(made: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    proc = _run_limited(256 * 1024, "import", made["good"], "--db", db)
    assert_clean_failure(proc, "new.duckdb", "cannot write the database")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_leaves_an_existing_store_byte_identical(
    made: dict[str, Path], tmp_path: Path
) -> None:
    db = _copy(made, tmp_path / "full.duckdb")
    before = digest(db)
    # the commit's WAL (about 2 kB here) cannot be written
    proc = _run_limited(1024, "import", made["clash"] / "a", "--db", db)
    assert_clean_failure(proc, "full.duckdb", "cannot write the database")
    assert digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.duckdb"]


def _read_only_folder(folder: Path) -> Callable[[], None]:
    """Make ``folder`` refuse new entries (root ignores modes: the immutable flag then)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    subprocess.run(["chattr", "+i", str(folder)], check=True)
    return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_folder_is_an_error_and_changes_nothing(
    made: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = _copy(made, folder / "ro.duckdb")
    before = digest(db)
    undo = _read_only_folder(folder)
    try:
        existing = cli("import", made["clash"] / "a", "--db", db)
        new = cli("import", made["clash"] / "a", "--db", folder / "new.duckdb")
    finally:
        undo()
    assert_clean_failure(existing, "ro.duckdb")
    assert_clean_failure(new, "new.duckdb")
    assert digest(db) == before
    assert sorted(p.name for p in folder.iterdir()) == ["ro.duckdb"]


# --- options and names ------------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["-1", "0"])
def test_workers_below_one(workers: str, made: dict[str, Path], tmp_path: Path) -> None:
    proc = cli("import", made["good"], "--db", tmp_path / "t.duckdb", "--workers", workers)
    assert_clean_failure(proc, f"--workers {workers}")
    assert list(tmp_path.iterdir()) == []


def test_parquet_that_is_a_file(made: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "data.parquet"
    target.write_bytes(b"PAR1")
    proc = cli("import", made["good"], "--parquet", target)
    assert_clean_failure(proc, "data.parquet", "not a folder")
    assert target.read_bytes() == b"PAR1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.parquet"]


def test_a_folder_name_that_is_not_utf8(made: dict[str, Path], tmp_path: Path) -> None:
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/job\xff"))
    _trace(folder)
    proc = cli("import", folder, "--db", tmp_path / "t.duckdb")
    assert_clean_failure(proc, "job\\xff", "not valid UTF-8")
    assert not (tmp_path / "t.duckdb").exists()


def test_parquet_failing_after_the_import_says_what_landed(
    made: dict[str, Path], tmp_path: Path
) -> None:
    """The database commits first; a dataset that cannot be written is exit 3, not 2."""
    dataset = tmp_path / "ds"
    dataset.mkdir()
    (dataset / "events").write_text("a file where the events folder goes")
    db = tmp_path / "t.duckdb"
    proc = cli("import", made["good"], "--db", db, "--run", "landed", "--parquet", dataset)
    assert proc.returncode == 3, proc.stderr
    message = " ".join(proc.stderr.split())
    assert "imported run(s) landed" in message and "Parquet dataset failed" in message
    runs = duckdb.connect(str(db), read_only=True).execute("SELECT run_id FROM runs").fetchall()
    assert runs == [("landed",)]


def _holder(db: Path, read_only: bool) -> subprocess.Popen:
    """Another process that has ``db`` open (as a reader or as a writer) until killed."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; "
            "c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'r'); "
            "print('held', flush=True); time.sleep(120)",
            str(db),
            "r" if read_only else "w",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_held_by_a_writer(command: str, made: dict[str, Path], tmp_path: Path) -> None:
    db = _copy(made, tmp_path / "held.duckdb")
    holder = _holder(db, read_only=False)
    try:
        proc = cli(*COMMANDS[command](db, made))
    finally:
        holder.kill()
        holder.wait()
    assert_clean_failure(proc, "held.duckdb", f"(PID {holder.pid}), which is writing to it")


def test_a_database_held_by_a_reader(made: dict[str, Path], tmp_path: Path) -> None:
    """Readers share the file; an import then says a reader is in the way, not a writer."""
    db = _copy(made, tmp_path / "read.duckdb")
    before = digest(db)
    holder = _holder(db, read_only=True)
    try:
        proc = cli("import", made["clash"] / "a", "--db", db)
        other_reader = cli("sql", "--db", db, "SELECT count(*) FROM runs")
    finally:
        holder.kill()
        holder.wait()
    assert_clean_failure(proc, "read.duckdb", "open for reading", "writing needs the database")
    assert other_reader.returncode == 0, other_reader.stderr
    assert digest(db) == before
