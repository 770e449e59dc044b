"""Issue 14 item 14, sharding as vLLM does it: random weights drawn shard by shard
(never a whole fp32 tensor), KV heads replicated when TP exceeds them, logits
all-gathered as in vLLM V1 (the gather stays the default)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from tests.collect.collect_traces import load_events, step_ranges
from tracekit.collect.presets import get_preset
from tracekit.collect.runner import CollectSpec, check_spec, collect, resolve_shape
from tracekit.errors import TracekitError
from tracekit.ingest.loader import import_paths
from tracekit.model.validate import validate
from tracekit.resources import collectors_dir

torch = pytest.importorskip("torch")


@pytest.fixture
def llama(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """collectors/llama.py, imported as the worker imports it, then forgotten."""
    monkeypatch.syspath_prepend(str(collectors_dir()))
    import llama

    yield llama
    for name in ("llama", "annotate", "parallel"):
        sys.modules.pop(name, None)


def test_row_and_column_shards_are_parts_of_one_tensor(llama: ModuleType) -> None:
    load = llama.random_weights(7, torch.device("cpu"), torch.float32)
    shape = (12, 10)
    whole = load("w", shape, -1, 1, 0)
    assert torch.equal(torch.cat([load("w", shape, 0, 3, i) for i in range(3)]), whole)
    assert torch.equal(torch.cat([load("w", shape, 1, 2, i) for i in range(2)], dim=1), whole)
    assert not torch.equal(load("v", shape, -1, 1, 0), whole)  # each name its own stream
    assert abs(float(whole.std()) - 0.02) < 0.005 and float(whole.abs().max()) <= llama.SCALE


def test_a_shard_is_drawn_without_the_whole_tensor(tmp_path: Path) -> None:
    """The 1/16 row shard (bf16, 32 MiB) of a 32768 × 8192 tensor: the whole tensor in
    fp32 is 1 GiB, which the loader used to draw before slicing."""
    code = f"""
import resource, sys, torch
sys.path.insert(0, {str(collectors_dir())!r})
from llama import random_weights
load = random_weights(0, torch.device("cpu"), torch.bfloat16)
load("warm", (64, 64), 0, 1, 0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
shard = load("model.embed_tokens.weight", (32768, 8192), 0, 16, 5)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(tuple(shard.shape), (after - before) * 1024)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shape, grew = done.stdout.rsplit(" ", 1)
    assert shape == "(2048, 8192)"
    assert int(grew) < 256 * 2**20, f"peak memory grew by {int(grew) / 2**20:.0f} MiB"


def test_the_memory_estimate_counts_replicated_kv_heads(llama: ModuleType) -> None:
    """llama-3.1-70b has 8 KV heads: at TP16 each rank holds one, as at TP8."""
    shape = get_preset("llama-3.1-70b")
    tp8 = llama.memory_estimate(shape, 8, 1, 0, 1024, 1, 2)
    tp16 = llama.memory_estimate(shape, 16, 1, 0, 1024, 1, 2)
    assert tp16["kv_cache"] == tp8["kv_cache"] == 2 * 80 * 1024 * 1 * 128 * 2
    kv_weights = 2 * 128 * shape.hidden * 2 * 80  # K and V of one head, every layer
    rest8 = tp8["weights"] - kv_weights
    assert tp16["weights"] - kv_weights == pytest.approx(rest8 / 2, rel=1e-3)


def test_tp_must_divide_the_kv_heads_or_be_a_multiple_of_them() -> None:
    tiny = resolve_shape("tiny", None, {})  # 4 heads, 2 KV heads
    check_spec(CollectSpec(tp=4, pp=1, shape=tiny))  # replicated: each rank one KV head
    odd = tiny.with_overrides(heads=12, kv_heads=3, hidden=96, intermediate=192)
    with pytest.raises(TracekitError, match="kv_heads=3 neither divides nor is divisible by"):
        check_spec(CollectSpec(tp=2, pp=1, shape=odd))


@pytest.mark.slow
def test_tp_above_the_kv_heads_replicates_them_and_all_gathers_the_logits(
    tmp_path: Path, runs: dict[str, Path]
) -> None:
    """tiny has 2 KV heads: TP4 used to be refused. Each rank now holds one (SDPA sees
    one KV head), the logits are all-gathered, the tokens are those of the TP2 run
    (gather, two KV heads a rank), and the model predicts every call and byte."""
    out = tmp_path / "tp4"
    spec = CollectSpec(
        tp=4,
        pp=1,
        shape=resolve_shape("tiny", None, {}),
        prompt_len=8,
        gen_len=4,
        logits_collective="all_gather",
    )
    manifest = collect(spec, out, command_line=["t"], timeout_s=240).manifest
    reference = json.loads((runs["tp2"] / "manifest.json").read_text())
    assert manifest.to_json()["output_tokens"] == reference["output_tokens"]
    assert manifest.workload.logits_collective == "all_gather"
    for rank in range(4):
        events = load_events(out / f"rank{rank}.pt.trace.json.gz")
        steps = step_ranges(events)
        sdpa = [
            e["args"]["Input Dims"]
            for e in events
            if e.get("name") == "aten::scaled_dot_product_attention"
            and any(lo <= e["ts"] < hi for lo, hi in steps.values())
        ]
        assert sdpa and all(dims[1][1] == 1 and dims[0][1] == 1 for dims in sdpa), rank
    db = tmp_path / "tp4.duckdb"
    import_paths(db, [out], run="tp4")
    with duckdb.connect(str(db), read_only=True) as con:
        result = validate(con, "tp4")
    assert result.counts_and_bytes_match
    ops = set(result.by_op.filter(result.by_op["phase"] == "decode")["op"])
    assert ops == {"all_reduce", "all_gather", "broadcast"}
