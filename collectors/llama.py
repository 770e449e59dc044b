"""A Llama-architecture dense decoder sharded as vLLM and Megatron shard it.

RMSNorm with a fused residual add, rotary embeddings, grouped-query attention
with a KV cache, a SwiGLU MLP, a vocab-parallel embedding and LM head.
Column-parallel QKV and gate/up projections, row-parallel output and down
projections followed by an all-reduce. One object holds one pipeline stage.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from annotate import Annotator
from parallel import Comm, layer_range

from tracekit.collect.presets import ModelShape

WeightSource = Callable[[str, tuple[int, ...], int, int], torch.Tensor]
"""(name, full shape, shard dim or -1, shard count) -> this rank's shard."""


def random_weights(
    seed: int, device: torch.device, dtype: torch.dtype, tp_rank: int
) -> WeightSource:
    """Deterministic random weights: the full tensor is drawn from a generator
    seeded by its name, then sliced, so every TP degree sees the same model."""

    def load(name: str, shape: tuple[int, ...], dim: int, parts: int) -> torch.Tensor:
        if name.endswith("norm.weight"):
            return torch.ones(shape, device=device, dtype=dtype)
        gen = torch.Generator(device=device)
        gen.manual_seed(seed ^ zlib.crc32(name.encode()))
        full = torch.randn(shape, generator=gen, device=device, dtype=torch.float32) * 0.02
        return shard(full, dim, parts, tp_rank).to(dtype)

    return load


def shard(full: torch.Tensor, dim: int, parts: int, index: int) -> torch.Tensor:
    if dim < 0 or parts == 1:
        return full.contiguous()
    return full.chunk(parts, dim=dim)[index].contiguous()


def memory_estimate(
    shape: ModelShape, tp: int, pp: int, pp_rank: int, tokens: int, batch: int, elem_bytes: int
) -> dict[str, int]:
    """Bytes one rank needs: its weight shards, its KV cache for ``batch`` ×
    ``tokens`` positions, and the largest full fp32 tensor random weights draw
    before slicing (activations of a tiny batch are left out)."""
    hd, h, inter = shape.head_dim, shape.hidden, shape.intermediate
    per_layer = ((shape.heads + 2 * shape.kv_heads) * hd * h + shape.heads * hd * h) // tp
    per_layer += 3 * inter * h // tp + 2 * h
    layers = len(layer_range(shape.layers, pp, pp_rank))
    params = layers * per_layer
    params += shape.vocab * h // tp if pp_rank == 0 else 0
    params += shape.vocab * h // tp + h if pp_rank == pp - 1 else 0
    kv = 2 * layers * batch * tokens * (shape.kv_heads // tp) * hd * elem_bytes
    largest = max(shape.vocab * h, inter * h, shape.heads * hd * h) * 4
    return {"weights": params * elem_bytes, "kv_cache": kv, "fp32_draw": largest}


class RMSNorm:
    def __init__(self, weight: torch.Tensor, eps: float) -> None:
        self.weight = weight
        self.eps = eps

    def __call__(
        self, x: torch.Tensor, residual: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (normed(x + residual), x + residual), as vLLM's fused norm does."""
        residual = x if residual is None else x + residual
        var = residual.float().pow(2).mean(-1, keepdim=True)
        normed = residual.float() * torch.rsqrt(var + self.eps)
        return (normed.to(x.dtype) * self.weight), residual


class Rotary:
    def __init__(self, head_dim: int, theta: float, max_positions: int, device: torch.device):
        inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device).float() / head_dim))
        freqs = torch.outer(torch.arange(max_positions, device=device).float(), inv)
        self.cos = freqs.cos()
        self.sin = freqs.sin()

    def __call__(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """x: [batch, tokens, heads, head_dim]; rotate-half convention of HF Llama."""
        cos = self.cos[positions][None, :, None, :].repeat(1, 1, 1, 2).to(x.dtype)
        sin = self.sin[positions][None, :, None, :].repeat(1, 1, 1, 2).to(x.dtype)
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin


class Layer:
    """One decoder layer's shard: local heads, local intermediate columns."""

    def __init__(self, index: int, shape: ModelShape, load: WeightSource, comm: Comm) -> None:
        t = comm.tp
        p = f"model.layers.{index}."
        hd = shape.head_dim
        h = shape.hidden
        self.index = index
        self.comm = comm
        self.heads = shape.heads // t
        self.kv_heads = shape.kv_heads // t
        self.head_dim = hd
        self.qkv = torch.cat(
            [
                load(p + "self_attn.q_proj.weight", (shape.heads * hd, h), 0, t),
                load(p + "self_attn.k_proj.weight", (shape.kv_heads * hd, h), 0, t),
                load(p + "self_attn.v_proj.weight", (shape.kv_heads * hd, h), 0, t),
            ]
        )
        self.o = load(p + "self_attn.o_proj.weight", (h, shape.heads * hd), 1, t)
        self.gate_up = torch.cat(
            [
                load(p + "mlp.gate_proj.weight", (shape.intermediate, h), 0, t),
                load(p + "mlp.up_proj.weight", (shape.intermediate, h), 0, t),
            ]
        )
        self.down = load(p + "mlp.down_proj.weight", (h, shape.intermediate), 1, t)
        self.input_norm = RMSNorm(load(p + "input_layernorm.weight", (h,), -1, 1), shape.rms_eps)
        self.post_norm = RMSNorm(
            load(p + "post_attention_layernorm.weight", (h,), -1, 1), shape.rms_eps
        )
        self.cache_k: torch.Tensor | None = None
        self.cache_v: torch.Tensor | None = None

    def reset_cache(self, batch: int, length: int) -> None:
        size = (batch, length, self.kv_heads, self.head_dim)
        self.cache_k = self.qkv.new_zeros(size)
        self.cache_v = self.qkv.new_zeros(size)

    def attention(
        self, x: torch.Tensor, start: int, positions: torch.Tensor, rotary: Rotary
    ) -> torch.Tensor:
        """``start``: the first position as a Python int, so the KV-cache slice
        needs no GPU→CPU sync; ``positions`` the same positions as a tensor."""
        b, n, _ = x.shape
        q_size = self.heads * self.head_dim
        kv_size = self.kv_heads * self.head_dim
        q, k, v = (x @ self.qkv.T).split([q_size, kv_size, kv_size], dim=-1)
        q = rotary(q.view(b, n, self.heads, self.head_dim), positions)
        k = rotary(k.view(b, n, self.kv_heads, self.head_dim), positions)
        self.cache_k[:, start : start + n] = k
        self.cache_v[:, start : start + n] = v.view(b, n, self.kv_heads, self.head_dim)
        keys = self.cache_k[:, : start + n].transpose(1, 2)
        values = self.cache_v[:, : start + n].transpose(1, 2)
        # SDPA shares each KV head among its query heads (no copy of the cache per layer).
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), keys, values, is_causal=n > 1, enable_gqa=self.heads > self.kv_heads
        )
        out = out.transpose(1, 2).reshape(b, n, q_size) @ self.o.T
        return self.comm.all_reduce(out)

    def mlp(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = (x @ self.gate_up.T).chunk(2, dim=-1)
        return self.comm.all_reduce((F.silu(gate) * up) @ self.down.T)


class Stage:
    """The layers, and embedding or LM head, that one pipeline stage holds."""

    def __init__(
        self,
        shape: ModelShape,
        load: WeightSource,
        comm: Comm,
        annotate: Annotator,
        device: torch.device,
    ) -> None:
        layout = comm.layout
        t = comm.tp
        self.shape = shape
        self.comm = comm
        self.annotate = annotate
        self.vocab_part = shape.vocab // t
        self.rotary = Rotary(shape.head_dim, shape.rope_theta, shape.max_positions, device)
        self.embed = None
        self.lm_head = None
        self.norm = None
        if layout.is_first_stage:
            self.embed = load("model.embed_tokens.weight", (shape.vocab, shape.hidden), 0, t)
        if layout.is_last_stage:
            norm = load("model.norm.weight", (shape.hidden,), -1, 1)
            self.norm = RMSNorm(norm, shape.rms_eps)
            self.lm_head = load("lm_head.weight", (shape.vocab, shape.hidden), 0, t)
        self.layers = [
            Layer(i, shape, load, comm)
            for i in layer_range(shape.layers, layout.pp, layout.pp_rank)
        ]

    def reset_cache(self, batch: int, length: int) -> None:
        for layer in self.layers:
            layer.reset_cache(batch, length)

    def embedding(self, tokens: torch.Tensor) -> torch.Tensor:
        """Vocab-parallel lookup: rows outside this shard are zero, then all-reduce."""
        start = self.comm.layout.tp_rank * self.vocab_part
        local = tokens - start
        outside = (local < 0) | (local >= self.vocab_part)
        x = F.embedding(local.masked_fill(outside, 0), self.embed)
        x = x.masked_fill(outside.unsqueeze(-1), 0)
        return self.comm.all_reduce(x)

    def forward(self, tokens: torch.Tensor, start: int, like: torch.Tensor) -> torch.Tensor | None:
        """One step of this stage. ``tokens`` [batch, n] (used on the first
        stage) at positions ``start`` … ``start + n - 1``; returns gathered
        logits [batch, vocab] on the last stage's TP rank 0, else None.
        ``like`` gives dtype and device of activations."""
        layout = self.comm.layout
        b, n = tokens.shape
        hidden_shape = (b, n, self.shape.hidden)
        positions = torch.arange(start, start + n, device=like.device)
        residual = None
        if layout.is_first_stage:
            with self.annotate.block("embedding"):
                hidden = self.embedding(tokens)
        else:
            with self.annotate.block("pp_recv"):
                hidden = self.comm.recv_from_prev(hidden_shape, like)
                residual = self.comm.recv_from_prev(hidden_shape, like)
        for layer in self.layers:
            with self.annotate.layer(layer.index):
                with self.annotate.block("attention"):
                    x, residual = layer.input_norm(hidden, residual)
                    hidden = layer.attention(x, start, positions, self.rotary)
                with self.annotate.block("mlp"):
                    x, residual = layer.post_norm(hidden, residual)
                    hidden = layer.mlp(x)
        if not layout.is_last_stage:
            with self.annotate.block("pp_send"):
                self.comm.send_to_next(hidden)
                self.comm.send_to_next(residual)
            return None
        with self.annotate.block("lm_head"):
            x, _ = self.norm(hidden[:, -1:], residual[:, -1:])
            return self.comm.gather_to_first(x[:, 0] @ self.lm_head.T)
