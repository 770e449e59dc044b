"""Loading a local safetensors checkpoint: this rank's shards, no download."""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tracekit.collect.presets import PRESETS
from tracekit.collect.runner import CollectSpec, collect, resolve_shape
from tracekit.resources import collectors_dir

torch = pytest.importorskip("torch")


@pytest.fixture
def collectors(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, ModuleType]]:
    """The collectors' modules, imported as the worker imports them, then forgotten."""
    monkeypatch.syspath_prepend(str(collectors_dir()))
    import checkpoint
    import llama

    yield {"checkpoint": checkpoint, "llama": llama}
    for name in ("checkpoint", "llama", "annotate", "parallel"):
        sys.modules.pop(name, None)


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        data = tensor.contiguous().numpy().tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def test_shards_are_sliced_from_the_checkpoint(tmp_path: Path, collectors: dict) -> None:
    down = torch.arange(8 * 6, dtype=torch.float32).view(8, 6)
    embed = torch.randn(10, 8)
    write_safetensors(tmp_path / "model-00001.safetensors", {"model.embed_tokens.weight": embed})
    write_safetensors(
        tmp_path / "model-00002.safetensors", {"model.layers.0.mlp.down_proj.weight": down}
    )
    load = collectors["checkpoint"].checkpoint_weights(tmp_path, torch.device("cpu"), torch.float32)
    got = load("model.layers.0.mlp.down_proj.weight", (8, 6), 1, 2, 1)
    assert torch.equal(got, down[:, 3:])
    assert torch.equal(load("model.embed_tokens.weight", (10, 8), 0, 2, 1), embed[5:])
    assert torch.equal(load("lm_head.weight", (10, 8), 0, 2, 1), embed[5:])
    with pytest.raises(ValueError, match="expected"):
        load("model.embed_tokens.weight", (12, 8), 0, 2, 1)


def tiny_checkpoint(directory: Path, collectors: dict) -> None:
    """The tiny preset's random weights (seed 0), saved as a Hugging Face folder."""
    s = PRESETS["tiny"]
    full = collectors["llama"].random_weights(0, torch.device("cpu"), torch.float32)
    hd = s.head_dim
    shapes = {
        "model.embed_tokens.weight": (s.vocab, s.hidden),
        "lm_head.weight": (s.vocab, s.hidden),
        "model.norm.weight": (s.hidden,),
    }
    for i in range(s.layers):
        p = f"model.layers.{i}."
        shapes |= {
            p + "self_attn.q_proj.weight": (s.heads * hd, s.hidden),
            p + "self_attn.k_proj.weight": (s.kv_heads * hd, s.hidden),
            p + "self_attn.v_proj.weight": (s.kv_heads * hd, s.hidden),
            p + "self_attn.o_proj.weight": (s.hidden, s.heads * hd),
            p + "mlp.gate_proj.weight": (s.intermediate, s.hidden),
            p + "mlp.up_proj.weight": (s.intermediate, s.hidden),
            p + "mlp.down_proj.weight": (s.hidden, s.intermediate),
            p + "input_layernorm.weight": (s.hidden,),
            p + "post_attention_layernorm.weight": (s.hidden,),
        }
    directory.mkdir()
    write_safetensors(
        directory / "model.safetensors",
        {n: full(n, shape, -1, 1, 0) for n, shape in shapes.items()},
    )
    config = {
        "num_hidden_layers": s.layers,
        "hidden_size": s.hidden,
        "num_attention_heads": s.heads,
        "num_key_value_heads": s.kv_heads,
        "intermediate_size": s.intermediate,
        "vocab_size": s.vocab,
        "rope_theta": s.rope_theta,
        "rms_norm_eps": s.rms_eps,
        "max_position_embeddings": s.max_positions,
    }
    (directory / "config.json").write_text(json.dumps(config))


@pytest.mark.slow
def test_a_checkpoint_run_matches_the_same_weights_drawn_at_random(
    tmp_path: Path, collectors: dict, runs: dict[str, Path]
) -> None:
    ckpt = tmp_path / "tiny-hf"
    tiny_checkpoint(ckpt, collectors)
    workload = CollectSpec(
        tp=2, pp=1, shape=resolve_shape("tiny", ckpt, {}), prompt_len=8, gen_len=4, checkpoint=ckpt
    )
    result = collect(workload, tmp_path / "run", command_line=["t"], timeout_s=120)
    reference = json.loads((runs["tp2"] / "manifest.json").read_text())
    assert result.manifest.workload.checkpoint == str(ckpt)
    assert result.manifest.to_json()["output_tokens"] == reference["output_tokens"]
