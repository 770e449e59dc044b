"""New databases start as a copy of a cached empty store; initialise runs once per fingerprint."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tracekit import store
from tracekit.errors import InputError

CATALOGUE = """
SELECT table_name, column_name, data_type FROM information_schema.columns
ORDER BY ALL
"""
RULES = "SELECT * FROM comm_rules ORDER BY rule_id"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "tracekit"


def _snapshot(path: Path) -> tuple[list, list, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        meta = con.execute("SELECT * FROM tracekit_meta ORDER BY key").fetchall()
        return con.execute(CATALOGUE).fetchall(), con.execute(RULES).fetchall(), meta
    finally:
        con.close()


def test_a_new_database_from_the_template_equals_one_initialised_in_place(
    cache: Path, tmp_path: Path
) -> None:
    cache.mkdir(parents=True)
    (cache / "store-0123456789abcdef.duckdb").write_bytes(b"an older version's template")
    in_place = tmp_path / "in_place.duckdb"
    con = duckdb.connect(str(in_place))
    store.initialise(con)
    con.close()

    con = store.connect(tmp_path / "copied.duckdb")
    store.initialise(con)
    con.close()

    templates = list(cache.glob("store-*.duckdb"))
    assert [p.name for p in templates] == [f"store-{store.fingerprint()}.duckdb"]
    assert _snapshot(tmp_path / "copied.duckdb") == _snapshot(in_place)
    catalogue, rules, meta = _snapshot(in_place)
    assert ("fingerprint", store.fingerprint()) in meta
    assert len(rules) >= 14
    assert {"overlap_by_rank", "comm_ops", "events"} <= {row[0] for row in catalogue}


def test_initialise_is_skipped_only_while_the_fingerprint_matches(
    cache: Path, tmp_path: Path
) -> None:
    con = store.connect(tmp_path / "t.duckdb")
    store.initialise(con)
    con.execute("DROP VIEW overlap_by_rank")
    store.initialise(con)  # same fingerprint: nothing is redone
    views = "SELECT count(*) FROM duckdb_views() WHERE view_name = 'overlap_by_rank'"
    assert con.execute(views).fetchall() == [(0,)]
    con.execute("UPDATE tracekit_meta SET value = 'older' WHERE key = 'fingerprint'")
    store.initialise(con)  # files changed since: every view is created again
    assert con.execute(views).fetchall() == [(1,)]
    con.close()


def test_an_unusable_cache_falls_back_to_initialising_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    con = store.connect(tmp_path / "t.duckdb")
    store.initialise(con)
    assert con.execute("SELECT count(*) FROM overlap_by_rank").fetchall() == [(0,)]
    con.close()


def test_a_database_in_a_missing_folder_is_a_clear_error(cache: Path, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "t.duckdb"
    with pytest.raises(InputError, match="cannot open the database"):
        store.connect(target)
    assert not target.parent.exists()
