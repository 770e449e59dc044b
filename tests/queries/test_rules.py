"""User rule rows reach the views: a label rule added with `tracekit rules add --table
label_rules` labels events, and removing it takes the label away again."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.fixtures.kineto import Trace, import_traces
from tests.robustness.conftest import tk


def _layers(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT e.name, l.layer FROM event_labels l JOIN events e USING (trace_id, event_id) "
            "WHERE e.kind = 'kernel' ORDER BY e.ts_ns"
        ).fetchall()


def test_label_rules_are_reachable_from_the_cli(tmp_path: Path) -> None:
    trace = Trace(rank=0, world_size=1)
    trace.annotation("tk:step=0 phase=prefill", 0, 300)
    trace.annotation("MyDecoder/block_7", 0, 150).kernel("gemm_a", 100, 40, launch_ts=1)
    trace.annotation("MyDecoder/block_8", 160, 100).kernel("gemm_b", 200, 40, launch_ts=170)
    db = import_traces(tmp_path / "l.duckdb", tmp_path / "t", [trace])
    assert _layers(db) == [("gemm_a", None), ("gemm_b", None)]
    rules = tmp_path / "layers.csv"
    rules.write_text(
        "rule_id,priority,key,pattern,note\n"
        "my_blocks,5,layer,^MyDecoder/block_(\\d+)$,our decoder's layer ranges\n"
    )
    added = tk("rules", "add", rules, "--db", db, "--table", "label_rules")
    assert added.returncode == 0, added.stderr
    assert _layers(db) == [("gemm_a", 7), ("gemm_b", 8)]
    listed = tk("rules", "list", "--db", db, "--table", "label_rules", "--user")
    assert "my_blocks" in listed.stdout and "tk_step" not in listed.stdout
    removed = tk("rules", "remove", "my_blocks", "--db", db, "--table", "label_rules")
    assert removed.returncode == 0, removed.stderr
    assert _layers(db) == [("gemm_a", None), ("gemm_b", None)]
