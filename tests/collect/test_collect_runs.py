"""Real multi-process gloo runs: the traces hold exactly the communication the
config implies, every rank is annotated, and the manifest describes the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.collect.collect_traces import annotations, comm_per_step, expected_comm, stage_layers

pytestmark = pytest.mark.slow


def manifest_of(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


@pytest.mark.parametrize("layout", ["tp2", "pp2", "tp2pp2"])
def test_collectives_per_rank_per_step_match_the_config(runs: dict[str, Path], layout: str) -> None:
    run = runs[layout]
    manifest = manifest_of(run)
    gen_len = manifest["workload"]["gen_len"]
    for row in manifest["ranks"]:
        measured = comm_per_step(run / row["trace"])
        assert sorted(measured) == list(range(gen_len))
        for step in range(gen_len):
            expected = expected_comm(manifest, row["rank"], step)
            assert measured[step] == expected, (layout, row["rank"], step)


def test_tp2_counts_match_the_papers_formula(runs: dict[str, Path]) -> None:
    """TP: (2L + 1)·Sd all-reduces and Sd gathers on each rank."""
    manifest = manifest_of(runs["tp2"])
    layers, gen_len = manifest["model"]["layers"], manifest["workload"]["gen_len"]
    per_step = comm_per_step(runs["tp2"] / "rank0.pt.trace.json.gz")
    kinds = {}
    for counts in per_step.values():
        for (kind, _), n in counts.items():
            kinds[kind] = kinds.get(kind, 0) + n
    assert kinds["all_reduce"] == (2 * layers + 1) * gen_len
    assert kinds["gather"] == gen_len
    prefill = {k: n for k, n in per_step[0].items() if k[0] == "all_reduce"}
    h, batch, prompt = manifest["model"]["hidden"], 2, manifest["workload"]["prompt_len"]
    assert prefill == {("all_reduce", batch * prompt * h * 4): 2 * layers + 1}


@pytest.mark.parametrize("layout", ["tp2", "pp2", "tp2pp2"])
def test_every_rank_carries_the_annotation_hierarchy(runs: dict[str, Path], layout: str) -> None:
    run = runs[layout]
    manifest = manifest_of(run)
    tp, pp = manifest["parallel"]["tp"], manifest["parallel"]["pp"]
    gen_len = manifest["workload"]["gen_len"]
    layers = manifest["model"]["layers"]
    for row in manifest["ranks"]:
        names = annotations(run / row["trace"])
        assert names["tk:step=0 phase=prefill"] == 1
        for step in range(1, gen_len):
            assert names[f"tk:step={step} phase=decode"] == 1
        assert names[f"tk:stage={row['pp_rank']}"] == gen_len
        n_layers = stage_layers(layers, pp, row["pp_rank"])
        assert sum(n for k, n in names.items() if k.startswith("tk:layer=")) == n_layers * gen_len
        assert names["tk:block=attention"] == names["tk:block=mlp"] == n_layers * gen_len
        first, last = row["pp_rank"] == 0, row["pp_rank"] == pp - 1
        assert names["tk:block=embedding"] == (gen_len if first else 0)
        assert names["tk:block=lm_head"] == (gen_len if last else 0)
        assert names["tk:block=pp_send"] == (0 if last else gen_len)
        assert names["tk:block=pp_recv"] == (0 if first else gen_len)
        assert (names["tk:block=sample"] > 0) == (first or (last and row["tp_rank"] == 0))
        assert tp * pp == manifest["parallel"]["world_size"]


def test_all_layouts_generate_the_same_tokens(runs: dict[str, Path]) -> None:
    """Sharding is exact: TP, PP and TP×PP split the same random model."""
    tokens = {name: manifest_of(run)["output_tokens"] for name, run in runs.items()}
    assert tokens["tp2"] == tokens["pp2"] == tokens["tp2pp2"]
    assert len(tokens["tp2"]) == 2 and len(tokens["tp2"][0]) == 4


def test_manifest_describes_layout_versions_and_latency(runs: dict[str, Path]) -> None:
    run = runs["tp2pp2"]
    manifest = manifest_of(run)
    assert manifest["complete"] is True
    assert manifest["tracekit_version"]
    assert manifest["parallel"] == {
        "tp": 2,
        "pp": 2,
        "world_size": 4,
        "backend": "gloo",
        "layers_per_stage": [2, 2],
    }
    assert [(r["rank"], r["tp_rank"], r["pp_rank"]) for r in manifest["ranks"]] == [
        (0, 0, 0),
        (1, 1, 0),
        (2, 0, 1),
        (3, 1, 1),
    ]
    for row in manifest["ranks"]:
        assert row["device"] == "cpu" and row["host"]
        assert (run / row["trace"]).stat().st_size > 0
        assert (run / row["log"]).exists()
    assert manifest["model"]["name"] == "tiny" and manifest["model"]["dtype"] == "float32"
    assert manifest["workload"] == {
        "batch": 2,
        "prompt_len": 8,
        "gen_len": 4,
        "warmup": 1,
        "seed": 0,
        "profiler": "torch",
        "checkpoint": None,
        "logits_tokens_per_seq": 1,
        "sample_feedback": "every_step",
        "logits_collective": "gather",
    }
    assert manifest["versions"]["torch"] and manifest["versions"]["python"]
    assert len(manifest["latency"]) == 2
    for row in manifest["latency"]:
        assert 0 < row["ttft_ms"] <= row["e2e_ms"]
        assert row["tpot_ms"] == pytest.approx((row["e2e_ms"] - row["ttft_ms"]) / 3)
    assert not (run / "worker_result.json").exists()


def test_trace_keeps_only_the_measured_generation(runs: dict[str, Path]) -> None:
    """Warm-up passes are outside the profiled region: one prefill step per trace."""
    names = annotations(runs["tp2"] / "rank1.pt.trace.json.gz")
    assert names["tk:step=0 phase=prefill"] == 1


SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"


@pytest.mark.parametrize("layout", ["tp2", "pp2", "tp2pp2"])
def test_committed_sample_traces_match_the_config(layout: str) -> None:
    run = SAMPLES / layout
    if not run.is_dir():
        pytest.skip("sample_traces/ not present (installed package)")
    manifest = manifest_of(run)
    assert manifest["complete"] is True
    for row in manifest["ranks"]:
        measured = comm_per_step(run / row["trace"])
        for step in range(manifest["workload"]["gen_len"]):
            assert measured[step] == expected_comm(manifest, row["rank"], step)
