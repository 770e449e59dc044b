"""One meaning per name across the views: `lane` is a lane group ('gpu<d>' or 'cpu') and
`stream_lane` the stream or thread an op ran on; `msg_bytes` is BIGINT wherever it
appears; event_annotations carries `run_id`; `timing` and `validate` are one module each."""

from __future__ import annotations

import importlib
import re

import duckdb
import pytest

from tests.conftest import REPO
from tracekit.ingest.loader import import_paths


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    db = tmp_path_factory.mktemp("names") / "names.duckdb"
    import_paths(db, [REPO / "sample_traces" / "tp2"], run="tp2")
    connection = duckdb.connect(str(db), read_only=True)
    yield connection
    connection.close()


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for view, column, kind in con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
    ).fetchall():
        found.setdefault(view, {})[column] = kind
    return found


def test_lane_is_the_lane_group_and_stream_lane_the_stream(con: duckdb.DuckDBPyConnection) -> None:
    columns = _columns(con)
    with_lane = {v for v, c in columns.items() if "lane" in c}
    assert {"overlap_by_rank", "overlap_by_layer", "temporal_breakdown"} <= with_lane
    assert not with_lane & {"comm_ops", "collective_participants", "comm_op_list"}
    for view in with_lane:
        values = con.execute(f"SELECT DISTINCT lane FROM {view}").fetchall()
        assert all(re.fullmatch(r"gpu\d+|cpu", v) for (v,) in values if v is not None), view
    for view in ("comm_ops", "collective_participants", "comm_op_list"):
        values = con.execute(f"SELECT DISTINCT stream_lane FROM {view}").fetchall()
        assert values and all(re.fullmatch(r"gpu\d+:s\d+|cpu:\d+", v) for (v,) in values)


def test_msg_bytes_is_bigint_everywhere(con: duckdb.DuckDBPyConnection) -> None:
    kinds = {v: c["msg_bytes"] for v, c in _columns(con).items() if "msg_bytes" in c}
    assert {"comm_ops", "collective_instances", "collective_participants"} <= set(kinds)
    assert set(kinds.values()) == {"BIGINT"}, kinds
    gloo = con.execute(
        "SELECT count(*) FROM comm_ops WHERE library = 'gloo' AND msg_bytes > 0"
    ).fetchone()
    assert gloo[0] > 0


def test_event_annotations_has_run_id(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("SELECT DISTINCT run_id FROM event_annotations").fetchall()
    assert rows == [("tp2",)]


def test_module_names_mean_one_thing() -> None:
    assert importlib.import_module("tracekit.model.alpha_beta").fit_alpha_beta
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("tracekit.model.timing")
    runner = importlib.import_module("tracekit.collect.runner")
    assert hasattr(runner, "check_spec") and not hasattr(runner, "validate")
