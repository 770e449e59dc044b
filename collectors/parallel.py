"""Process groups and the communication calls of the sharded decoder.

Rank layout: global rank ``r`` -> (``pp_rank``, ``tp_rank``) by the ``rank_coords`` macro.
TP groups are contiguous ranks; each PP group links the ranks with the same
``tp_rank`` across stages. With a group of size one no call is issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
import torch.distributed as dist

from tracekit.model.layout import Layout


@dataclass(frozen=True)
class RankLayout:
    """Where this rank sits in the T×P grid (the whole grid is ``tracekit.model.layout.Layout``).

    Coordinates come from the grid, which evaluates the store's ``rank_coords`` and
    ``rank_at`` macros: the worker places ranks exactly as the views read them.
    """

    rank: int
    world_size: int
    tp: int
    pp: int

    @cached_property
    def grid(self) -> Layout:
        return Layout(tp=self.tp, pp=self.pp)

    @cached_property
    def _coords(self) -> tuple[int, int]:
        return self.grid.coords(self.rank)

    @property
    def tp_rank(self) -> int:
        return self._coords[1]

    @property
    def pp_rank(self) -> int:
        return self._coords[0]

    @property
    def is_first_stage(self) -> bool:
        return self.pp_rank == 0

    @property
    def is_last_stage(self) -> bool:
        return self.pp_rank == self.pp - 1

    def global_rank(self, pp_rank: int, tp_rank: int) -> int:
        return self.grid.rank(pp_rank, tp_rank)


def layer_range(layers: int, pp: int, pp_rank: int) -> range:
    """Layers of one stage: an even split; as in vLLM, the remainder goes one
    layer each to the stages just before the last one."""
    counts = [layers // pp] * pp
    for i in range(2, layers % pp + 2):
        counts[-i] += 1
    start = sum(counts[:pp_rank])
    return range(start, start + counts[pp_rank])


class Comm:
    """TP collectives and PP point-to-point calls for one rank."""

    def __init__(self, layout: RankLayout) -> None:
        self.layout = layout
        self.tp_group = None
        self.pp_group = None
        for stage in range(layout.pp):
            ranks = [layout.global_rank(stage, t) for t in range(layout.tp)]
            group = dist.new_group(ranks, group_desc="tp")
            if stage == layout.pp_rank:
                self.tp_group = group
        for tp_rank in range(layout.tp):
            ranks = [layout.global_rank(s, tp_rank) for s in range(layout.pp)]
            group = dist.new_group(ranks, group_desc="pp")
            if tp_rank == layout.tp_rank:
                self.pp_group = group

    @property
    def tp(self) -> int:
        return self.layout.tp

    def all_reduce(self, x: torch.Tensor) -> torch.Tensor:
        if self.tp > 1:
            dist.all_reduce(x, group=self.tp_group)
        return x

    def gather_to_first(self, x: torch.Tensor) -> torch.Tensor | None:
        """Gather ``x`` along its last dim to TP rank 0 (None elsewhere)."""
        if self.tp == 1:
            return x
        x = x.contiguous()
        dst = self.layout.global_rank(self.layout.pp_rank, 0)
        is_dst = self.layout.tp_rank == 0
        parts = [torch.empty_like(x) for _ in range(self.tp)] if is_dst else None
        dist.gather(x, parts, dst=dst, group=self.tp_group)
        return torch.cat(parts, dim=-1) if is_dst else None

    def all_gather_last(self, x: torch.Tensor) -> torch.Tensor:
        """All-gather ``x`` along its last dim in the TP group (vLLM V1's logits)."""
        if self.tp == 1:
            return x
        parts = torch.empty((self.tp, *x.shape), dtype=x.dtype, device=x.device)
        dist.all_gather_into_tensor(parts.view(-1), x.contiguous().view(-1), group=self.tp_group)
        return torch.cat(parts.unbind(0), dim=-1)

    def send_to_next(self, x: torch.Tensor) -> None:
        """Send this rank's 1/tp slice of ``x`` to the same TP rank of the next stage."""
        dst = self.layout.global_rank(self.layout.pp_rank + 1, self.layout.tp_rank)
        dist.send(self._slice(x), dst=dst, group=self.pp_group)

    def recv_from_prev(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """Receive a 1/tp slice from the previous stage and all-gather it in the TP group."""
        src = self.layout.global_rank(self.layout.pp_rank - 1, self.layout.tp_rank)
        full = torch.empty(shape, dtype=like.dtype, device=like.device)
        part = torch.empty(full.numel() // self.tp, dtype=like.dtype, device=like.device)
        dist.recv(part, src=src, group=self.pp_group)
        if self.tp == 1:
            return part.view(shape)
        dist.all_gather_into_tensor(full.view(-1), part, group=self.tp_group)
        return full

    def _slice(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.contiguous().view(-1)
        size = flat.numel() // self.tp
        return flat[self.layout.tp_rank * size : (self.layout.tp_rank + 1) * size].contiguous()

    def return_tokens(self, tokens: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """Bring the sampled token ids from the last stage's TP rank 0 to every
        rank of the first stage (``tk:block=sample``): a send to the first
        stage's TP rank 0 when pp > 1, then a broadcast in its TP group when tp > 1.
        ``like`` gives the shape and dtype on ranks that do not hold the tokens."""
        layout = self.layout
        first_tp0 = layout.global_rank(0, 0)
        last_tp0 = layout.global_rank(layout.pp - 1, 0)
        holder = tokens if tokens is not None else torch.empty_like(like)
        if layout.pp > 1 and layout.tp_rank == 0:
            if layout.is_last_stage:
                dist.send(holder, dst=first_tp0, group=self.pp_group)
            elif layout.is_first_stage:
                dist.recv(holder, src=last_tp0, group=self.pp_group)
        if layout.is_first_stage and self.tp > 1:
            dist.broadcast(holder, src=first_tp0, group=self.tp_group)
        return holder
