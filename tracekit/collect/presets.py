"""Shapes of the dense decoder models tracekit collects and models.

Pure data, no torch: shared by the collector (collectors/) and the analytical
model (tracekit.model). Dimensions are those of the published Hugging Face
configs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class ModelShape:
    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    rope_theta: float = 500000.0
    rms_eps: float = 1e-5
    max_positions: int = 8192

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def with_overrides(self, **overrides: int | float | None) -> ModelShape:
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown model field(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


PRESETS: dict[str, ModelShape] = {
    shape.name: shape
    for shape in (
        ModelShape(
            "tiny",
            layers=4,
            hidden=64,
            heads=4,
            kv_heads=2,
            intermediate=128,
            vocab=512,
            max_positions=1024,
        ),
        ModelShape(
            "llama-3.2-3b",
            layers=28,
            hidden=3072,
            heads=24,
            kv_heads=8,
            intermediate=8192,
            vocab=128256,
        ),
        ModelShape(
            "llama-3.1-8b",
            layers=32,
            hidden=4096,
            heads=32,
            kv_heads=8,
            intermediate=14336,
            vocab=128256,
        ),
        ModelShape(
            "llama-2-13b",
            layers=40,
            hidden=5120,
            heads=40,
            kv_heads=40,
            intermediate=13824,
            vocab=32000,
            rope_theta=10000.0,
            max_positions=4096,
        ),
        ModelShape(
            "llama-3-70b",
            layers=80,
            hidden=8192,
            heads=64,
            kv_heads=8,
            intermediate=28672,
            vocab=128256,
        ),
    )
}


# Llama 3.1 70B: Llama 3 70B's dimensions with a 128K context.
PRESETS["llama-3.1-70b"] = replace(
    PRESETS["llama-3-70b"], name="llama-3.1-70b", max_positions=131072
)


def shape_from_hf_config(cfg: dict, name: str) -> ModelShape:
    """The shape a Hugging Face Llama-style ``config.json`` describes."""
    return ModelShape(
        name=name,
        layers=cfg["num_hidden_layers"],
        hidden=cfg["hidden_size"],
        heads=cfg["num_attention_heads"],
        kv_heads=cfg.get("num_key_value_heads", cfg["num_attention_heads"]),
        intermediate=cfg["intermediate_size"],
        vocab=cfg["vocab_size"],
        rope_theta=float(cfg.get("rope_theta", 10000.0)),
        rms_eps=float(cfg.get("rms_norm_eps", 1e-5)),
        max_positions=int(cfg.get("max_position_embeddings", 4096)),
    )


def get_preset(name: str) -> ModelShape:
    try:
        return PRESETS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(PRESETS)}") from None
