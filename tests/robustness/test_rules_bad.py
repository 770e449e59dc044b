"""Bad rule files and bad rule ids: `tracekit rules add/list/remove`.

A rule file with any bad row (an invalid RE2 pattern, binary or malformed CSV, a
missing column, a non-integer priority, a duplicate id, an unknown label key or
capture, a hint missing from a name the pattern matches) adds nothing: exit 2, one
paragraph naming the file, and the database is byte-identical. A rule stored by an
older tracekit that breaks the views can be listed and removed. `--db` never creates a database.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.kineto import AR, Trace, import_traces
from tests.robustness.conftest import assert_clean_failure, digest, tk
from tracekit import rules, store
from tracekit.errors import InputError

HEADER = "rule_id,priority,kinds,pattern,library,op,captures,note\n"
GOOD = "mine,1,kernel,^gemm$,test,all_reduce,,pretend gemm communicates\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rules")
    trace = Trace(rank=0, world_size=1)
    trace.annotation("tk:step=0 phase=prefill", 0, 200).annotation("mine.block7", 0, 150)
    trace.kernel("gemm", 100, 40, launch_ts=1)
    trace.kernel(AR, 120, 60, stream=13, launch_ts=10)
    return import_traces(root / "r.duckdb", root / "t", [trace])


@pytest.fixture
def db(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(built, copy)
    return copy


def _file(tmp_path: Path, body: str | bytes, name: str = "rules.csv") -> Path:
    path = tmp_path / name
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body)
    return path


def test_invalid_re2_pattern_is_refused(db: Path, tmp_path: Path) -> None:
    bad = _file(tmp_path, HEADER + "broken,1,kernel,^nccl(Foo,test,all_reduce,,\n")
    before = digest(db)
    proc = tk("rules", "add", bad, "--db", db)
    assert_clean_failure(proc, str(bad), "line 2", "^nccl(Foo", "RE2", "missing )")
    assert digest(db) == before
    assert tk("report", "--db", db).returncode == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", ("binary",)),
        (HEADER.encode() + b"x,1,kernel,\xff\xfe,test,,,\n", ("not UTF-8",)),
        (HEADER + "a,1,kernel,^a$,test\nb,1\n", ("well-formed CSV",)),
    ],
    ids=["binary", "latin1", "ragged"],
)
def test_unreadable_rule_files(db: Path, tmp_path: Path, body: bytes | str, words: tuple) -> None:
    path = _file(tmp_path, body)
    before = digest(db)
    proc = tk("rules", "add", path, "--db", db)
    assert_clean_failure(proc, str(path), *words)
    assert digest(db) == before


@pytest.mark.parametrize(
    ("table", "body", "words"),
    [
        ("comm_rules", "", ("empty",)),
        ("comm_rules", "rule_id,priority,kinds,library\nx,1,kernel,t\n", ("lacks", "pattern")),
        ("comm_rules", HEADER + "x,first,kernel,^a$,t,,,\n", ("priority", "'first'")),
        ("comm_rules", HEADER + "x,1,,^a$,t,,,\n", ("kinds", "empty")),
        ("comm_rules", HEADER + GOOD + GOOD, ("mine", "this file")),
        ("comm_rules", HEADER + "gloo,1,kernel,^a$,t,,,\n", ("gloo", "builtin")),
        ("comm_rules", HEADER + "x,1,kernel,^(a)$,t,,opp,\n", ("captures", "opp")),
        (
            "comm_rules",
            "rule_id,priority,kinds,pattern,library,colour\nx,1,k,a,t,red\n",
            ("colour",),
        ),
        ("label_rules", "rule_id,priority,key,pattern\nx,1,layers,^l(\\d+)$\n", ("'layers'",)),
        ("label_rules", "rule_id,priority,key,pattern\nx,1,layer,[z-a]\n", ("[z-a]", "RE2")),
        ("dtype_sizes", "dtype,bytes\nmy_float,four\n", ("bytes", "'four'")),
        (
            "label_rules",
            "rule_id,priority,key,pattern,hint\nx,1,layer,^mine\\.block(\\d+)$,blk\n",
            ("hint 'blk'", "'mine.block7'"),
        ),
        (
            "comm_rules",
            "rule_id,priority,kinds,pattern,hint,library\nx,1,kernel,^ge,nccl,t\n",
            ("hint 'nccl'", "'gemm'"),
        ),
    ],
    ids=[
        "empty",
        "no-pattern",
        "priority",
        "empty-field",
        "dup-in-file",
        "dup-builtin",
        "captures",
        "unknown-column",
        "label-key",
        "label-pattern",
        "dtype-bytes",
        "label-hint",
        "comm-hint",
    ],
)
def test_bad_rows_add_nothing(
    db: Path, tmp_path: Path, table: str, body: str, words: tuple[str, ...]
) -> None:
    """In process (the CLI path of the same error is covered above): the message names
    the file and the field, and the rollback leaves the file byte-identical."""
    path = _file(tmp_path, body)
    before = digest(db)
    with pytest.raises(InputError) as caught:
        with store.open(db, read_only=False) as con:
            rules.add(con, table, path)
    text = " ".join(str(caught.value).split())
    for word in (str(path), *words):
        assert word in text, text
    assert digest(db) == before


def test_add_does_not_create_a_database(tmp_path: Path) -> None:
    good = _file(tmp_path, HEADER + GOOD)
    typo = tmp_path / "typo.duckdb"
    proc = tk("rules", "add", good, "--db", typo)
    assert_clean_failure(proc, str(typo), "no such database")
    assert not typo.exists()
    assert list(tmp_path.iterdir()) == [good]


def test_list_user_rules_and_remove_them(db: Path, tmp_path: Path) -> None:
    good = _file(tmp_path, HEADER + GOOD)
    assert tk("rules", "add", good, "--db", db).returncode == 0
    listed = tk("rules", "list", "--db", db, "--user")
    assert listed.returncode == 0, listed.stderr
    assert "mine" in listed.stdout and "nccl_dev_reduce" not in listed.stdout
    assert "1 rows" in listed.stdout
    removed = tk("rules", "remove", "mine", "--db", db)
    assert removed.returncode == 0 and "removed 1 row" in removed.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM comm_rules WHERE rule_id = 'mine'").fetchone() == (
            0,
        )


def test_remove_refuses_shipped_and_unknown_ids(db: Path) -> None:
    before = digest(db)
    shipped = tk("rules", "remove", "gloo", "--db", db)
    assert_clean_failure(shipped, "comm_rules", "'gloo'", "shipped")
    unknown = tk("rules", "remove", "nope", "--db", db, "--table", "label_rules")
    assert_clean_failure(unknown, "label_rules", "'nope'", "none")
    assert digest(db) == before


def test_a_stored_bad_rule_can_be_removed(db: Path) -> None:
    """A rule an older tracekit stored without checking breaks comm_ops; `rules remove`
    takes it out and the views work again."""
    with duckdb.connect(str(db)) as con:
        con.execute(
            "INSERT INTO comm_rules (rule_id, priority, kinds, pattern, library, source) "
            "VALUES ('old_bad', 1, 'kernel', '^nccl(', 'user', 'old.csv')"
        )
        with pytest.raises(duckdb.InvalidInputException):
            con.execute("SELECT count(*) FROM comm_ops").fetchall()
    listed = tk("rules", "list", "--db", db, "--user")
    assert listed.returncode == 0 and "old_bad" in listed.stdout
    assert tk("rules", "remove", "old_bad", "--db", db).returncode == 0
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM comm_ops").fetchone() == (1,)


def test_unknown_table_is_refused_by_the_cli(db: Path) -> None:
    proc = tk("rules", "list", "--db", db, "--table", "events")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "label_rules" in proc.stderr and "events" in proc.stderr
    assert set(rules.TABLES) == {"comm_rules", "label_rules", "comm_op_aliases", "dtype_sizes"}
