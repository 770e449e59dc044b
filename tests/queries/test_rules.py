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


# One range name per shipped label rule (and near misses): the guarded view must give what
# every rule's pattern gives on every name, with no hint in the way.
NAMES = [
    "tk:step=3 phase=decode",
    "tk:stage=1",
    "tk:layer=12",
    "tk:block=attention",
    "tk:  step=4",
    "model.layers.7.self_attn",
    "model.layers.7.attention.wq",
    "layers.3.attn",
    "model.layers.2.mlp",
    "layers.5.feed_forward.w1",
    "model.layers.1.mlp.feed_forward",
    "model.embed_tokens",
    "lm_head",
    "nn.Module: LlamaDecoderLayer_7",
    "nn.Module: GPTBlock_2",
    "aten::mm, seq = 12, op_id = 7",
    "step=1",
    "mylayers.7",
    "self_attention",
]


def test_hints_skip_only_names_their_rule_cannot_match(tmp_path: Path) -> None:
    trace = Trace(rank=0, world_size=1)
    for i, name in enumerate(NAMES):
        trace.annotation(name, 10 * i, 5)
    db = import_traces(tmp_path / "h.duckdb", tmp_path / "t", [trace])
    with duckdb.connect(str(db), read_only=True) as con:
        unhinted = con.execute("SELECT rule_id FROM label_rules WHERE hint IS NULL").fetchall()
        guarded = con.execute("SELECT * FROM _label_names ORDER BY ALL").fetchall()
        every = con.execute(
            "SELECT n.name, r.key, regexp_extract(n.name, r.pattern, 1), r.priority "
            "FROM (SELECT DISTINCT name FROM annotation_ranges) n "
            "JOIN label_rules r ON regexp_matches(n.name, r.pattern) ORDER BY ALL"
        ).fetchall()
        rules_hit = con.execute(
            "SELECT count(DISTINCT r.rule_id) = (SELECT count(*) FROM label_rules) "
            "FROM annotation_ranges n JOIN label_rules r ON regexp_matches(n.name, r.pattern)"
        ).fetchall()[0][0]
    assert unhinted == []
    assert rules_hit
    assert guarded == every
    assert ("model.layers.1.mlp.feed_forward", "block", "mlp", 40) in guarded
