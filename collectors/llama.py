"""A Llama-architecture dense decoder sharded as vLLM and Megatron shard it.

RMSNorm with a fused residual add, rotary embeddings, grouped-query attention
with a KV cache, a SwiGLU MLP, a vocab-parallel embedding and LM head.
Column-parallel QKV and gate/up projections, row-parallel output and down
projections followed by an all-reduce. One object holds one pipeline stage.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from annotate import Annotator
from parallel import Comm, layer_range

from tracekit.collect.presets import ModelShape

WeightSource = Callable[[str, tuple[int, ...], int, int, int], torch.Tensor]
"""(name, full shape, split dim or -1, parts, index) -> part ``index`` of ``parts``
along the split dim (the whole tensor for dim -1)."""

SCALE = 0.02 * math.sqrt(3)
"""Random weights are uniform on [-SCALE, SCALE]: standard deviation 0.02."""
DRAW_CHUNK = 1 << 22
"""Values drawn at a time (float64) while filling a shard."""


def random_weights(seed: int, device: torch.device, dtype: torch.dtype) -> WeightSource:
    """Deterministic random weights, drawn shard by shard, never whole.

    A tensor's values, in row-major order, are one Philox stream (counter-based: any
    position is reached directly) keyed by the seed and the tensor's name, so a rank
    draws only its own part and every TP degree sees the same model. Uniform, as vLLM's
    dummy weights are. Weights are 2-D, split along rows (dim 0) or columns (dim 1)."""

    def load(name: str, shape: tuple[int, ...], dim: int, parts: int, index: int) -> torch.Tensor:
        if name.endswith("norm.weight"):
            return torch.ones(shape, device=device, dtype=dtype)
        key = np.array([seed % 2**64, zlib.crc32(name.encode())], dtype=np.uint64)
        rows, cols = shape
        if dim == 1:  # a column block: one stretch of the stream per row
            width = cols // parts
            out = torch.empty((rows, width), device=device, dtype=dtype)
            step = max(1, DRAW_CHUNK // width)
            for first in range(0, rows, step):
                block = [
                    _uniform(key, r * cols + index * width, width)
                    for r in range(first, min(first + step, rows))
                ]
                out[first : first + len(block)] = _scaled(np.stack(block), device, dtype)
            return out
        height = rows // parts  # a row block (or the whole tensor): one stretch
        out = torch.empty((height, cols), device=device, dtype=dtype)
        draw = _uniform_stream(key, index * height * cols)
        step = max(1, DRAW_CHUNK // cols)
        for first in range(0, height, step):
            n = min(step, height - first)
            out[first : first + n] = _scaled(draw(n * cols).reshape(n, cols), device, dtype)
        return out

    return load


def _uniform_stream(key: np.ndarray, start: int) -> Callable[[int], np.ndarray]:
    """Successive uniforms in [0, 1) of the Philox stream ``key`` from position ``start``."""
    gen = np.random.Generator(np.random.Philox(key=key, counter=[start // 4, 0, 0, 0]))
    gen.random(start % 4)  # four values per counter step
    return gen.random


def _uniform(key: np.ndarray, start: int, n: int) -> np.ndarray:
    return _uniform_stream(key, start)(n)


def _scaled(values: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Uniforms in [0, 1) as weights in [-SCALE, SCALE)."""
    return torch.from_numpy(values).mul_(2 * SCALE).sub_(SCALE).to(device, dtype)


def shard(full: torch.Tensor, dim: int, parts: int, index: int) -> torch.Tensor:
    if dim < 0 or parts == 1:
        return full.contiguous()
    return full.chunk(parts, dim=dim)[index].contiguous()


def kv_split(kv_heads: int, tp: int, tp_rank: int) -> tuple[int, int, int]:
    """(KV heads on this rank, parts, index) to load K/V with. TP larger than the KV
    heads replicates them, as vLLM does: each rank holds one KV head, the one its query
    heads attend with (head ``tp_rank // (tp // kv_heads)``)."""
    if tp <= kv_heads:
        return kv_heads // tp, tp, tp_rank
    return 1, kv_heads, tp_rank // (tp // kv_heads)


def memory_estimate(
    shape: ModelShape, tp: int, pp: int, pp_rank: int, tokens: int, batch: int, elem_bytes: int
) -> dict[str, int]:
    """Bytes one rank needs: its weight shards (replicated KV heads counted on each
    rank that holds them), its KV cache for ``batch`` × ``tokens`` positions, and the
    buffer random weights are drawn through (activations of a tiny batch are left out)."""
    hd, h, inter = shape.head_dim, shape.hidden, shape.intermediate
    kv_heads = kv_split(shape.kv_heads, tp, 0)[0]
    per_layer = (shape.heads // tp + 2 * kv_heads) * hd * h + shape.heads // tp * hd * h
    per_layer += 3 * inter * h // tp + 2 * h
    layers = len(layer_range(shape.layers, pp, pp_rank))
    params = layers * per_layer
    params += shape.vocab * h // tp if pp_rank == 0 else 0
    params += shape.vocab * h // tp + h if pp_rank == pp - 1 else 0
    kv = 2 * layers * batch * tokens * kv_heads * hd * elem_bytes
    return {"weights": params * elem_bytes, "kv_cache": kv, "draw_buffer": DRAW_CHUNK * 8}


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
        t, j = comm.tp, comm.layout.tp_rank
        p = f"model.layers.{index}."
        hd = shape.head_dim
        h = shape.hidden
        self.index = index
        self.comm = comm
        self.heads = shape.heads // t
        self.kv_heads, kv_parts, kv_index = kv_split(shape.kv_heads, t, j)
        self.head_dim = hd
        kv_shape = (shape.kv_heads * hd, h)
        self.qkv = torch.cat(
            [
                load(p + "self_attn.q_proj.weight", (shape.heads * hd, h), 0, t, j),
                load(p + "self_attn.k_proj.weight", kv_shape, 0, kv_parts, kv_index),
                load(p + "self_attn.v_proj.weight", kv_shape, 0, kv_parts, kv_index),
            ]
        )
        self.o = load(p + "self_attn.o_proj.weight", (h, shape.heads * hd), 1, t, j)
        self.gate_up = torch.cat(
            [
                load(p + "mlp.gate_proj.weight", (shape.intermediate, h), 0, t, j),
                load(p + "mlp.up_proj.weight", (shape.intermediate, h), 0, t, j),
            ]
        )
        self.down = load(p + "mlp.down_proj.weight", (h, shape.intermediate), 1, t, j)
        norm = load(p + "input_layernorm.weight", (h,), -1, 1, 0)
        self.input_norm = RMSNorm(norm, shape.rms_eps)
        norm = load(p + "post_attention_layernorm.weight", (h,), -1, 1, 0)
        self.post_norm = RMSNorm(norm, shape.rms_eps)
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
        logits_collective: str = "gather",
    ) -> None:
        layout = comm.layout
        t, j = comm.tp, layout.tp_rank
        self.shape = shape
        self.comm = comm
        self.annotate = annotate
        self.vocab_part = shape.vocab // t
        self.logits_collective = logits_collective
        self.rotary = Rotary(shape.head_dim, shape.rope_theta, shape.max_positions, device)
        self.embed = None
        self.lm_head = None
        self.norm = None
        if layout.is_first_stage:
            self.embed = load("model.embed_tokens.weight", (shape.vocab, shape.hidden), 0, t, j)
        if layout.is_last_stage:
            norm = load("model.norm.weight", (shape.hidden,), -1, 1, 0)
            self.norm = RMSNorm(norm, shape.rms_eps)
            self.lm_head = load("lm_head.weight", (shape.vocab, shape.hidden), 0, t, j)
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
        stage) at positions ``start`` … ``start + n - 1``; returns the logits
        [batch, vocab] on the last stage's TP rank 0 (every TP rank of it with
        all_gather), else None.
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
            local = x[:, 0] @ self.lm_head.T
            if self.logits_collective == "all_gather":
                return self.comm.all_gather_last(local)
            return self.comm.gather_to_first(local)
