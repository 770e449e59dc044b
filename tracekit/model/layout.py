"""The inputs of the analytical model: parallel layout, workload, dtypes, ring factors.

Everything here is plain arithmetic shared by the study's formulas
(:mod:`tracekit.model.study`), tracekit's event-level prediction
(:mod:`tracekit.model.predict`) and the time model (:mod:`tracekit.model.alpha_beta`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Literal

from tracekit.errors import TracekitError
from tracekit.model.macros import call
from tracekit.resources import queries_dir


def _dtype_sizes() -> dict[str, int]:
    """Bytes per element of each dtype spelling: the rule table the views use
    (``queries/rules/dtype_sizes.csv``, loaded into ``dtype_sizes``)."""
    with (queries_dir() / "rules" / "dtype_sizes.csv").open(newline="") as f:
        return {row["dtype"].lower(): int(row["bytes"]) for row in csv.DictReader(f)}


DTYPE_BYTES: dict[str, int] = _dtype_sizes()
SAMPLE_DTYPE_BYTES = 8
"""Sampled token ids travel as int64."""

OPS: tuple[str, ...] = ("all_reduce", "all_gather", "gather", "broadcast", "send", "recv")
PHASES: tuple[str, ...] = ("prefill", "decode")


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of a dtype name (``bf16``, ``torch.bfloat16``, ``fp32`` ...)."""
    key = dtype.lower().removeprefix("torch.")
    try:
        return DTYPE_BYTES[key]
    except KeyError:
        raise TracekitError(
            f"unknown dtype {dtype!r}",
            "Use one of fp32, bf16, fp16, fp8.",
        ) from None


SampleFeedback = Literal["every_step", "none"]
LogitsCollective = Literal["gather", "all_gather"]


@dataclass(frozen=True)
class Workload:
    """What one generation request does: the one value the model's functions take.

    ``gen_len`` generated tokens = 1 prefill step over ``prompt_len`` tokens per sequence
    plus ``gen_len - 1`` decode steps of one token per sequence; activations travel in
    ``dtype``. ``logits_tokens_per_seq`` is how many positions per sequence reach the LM
    head in a step: 1 in vLLM (only the last position is sampled), ``None`` meaning every
    token of the step (a naive full-sequence LM head, as in a training forward pass).
    ``sample_feedback`` 'every_step': the sampled ids return to the first stage each step
    (as ``tracekit collect`` does); 'none': they do not travel over the group (vLLM).
    ``logits_collective`` how the last stage's TP ranks combine their vocabulary shards
    of the logits: 'gather' to TP rank 0 (the study's formula), 'all_gather' to every
    rank (vLLM V1).
    """

    batch: int
    prompt_len: int
    gen_len: int
    dtype: str = "bf16"
    logits_tokens_per_seq: int | None = 1
    sample_feedback: SampleFeedback = "every_step"
    logits_collective: LogitsCollective = "gather"

    def __post_init__(self) -> None:
        for name in ("batch", "prompt_len", "gen_len"):
            if getattr(self, name) < 1:
                raise TracekitError(f"{name.replace('_', '-')} must be at least 1")
        if self.sample_feedback not in ("every_step", "none"):
            raise TracekitError(
                f"unknown sample feedback {self.sample_feedback!r}", "every_step or none"
            )
        if self.logits_collective not in ("gather", "all_gather"):
            raise TracekitError(
                f"unknown logits collective {self.logits_collective!r}", "gather or all_gather"
            )

    @property
    def decode_steps(self) -> int:
        return self.gen_len - 1

    @property
    def prefill_tokens(self) -> int:
        """Tokens in the prefill step (all sequences)."""
        return self.batch * self.prompt_len

    @property
    def decode_tokens(self) -> int:
        """Tokens in one decode step (all sequences)."""
        return self.batch

    @property
    def total_tokens(self) -> int:
        """Tokens the model processes over the whole request: B (Sp + Sd - 1)."""
        return self.batch * (self.prompt_len + self.gen_len - 1)

    def logits_tokens(self, step_tokens: int) -> int:
        """Positions whose logits are computed in a step of ``step_tokens`` tokens."""
        if self.logits_tokens_per_seq is None:
            return step_tokens
        return self.batch * self.logits_tokens_per_seq


def rank_coords(rank: int, tp: int) -> tuple[int, int]:
    """(pp_rank, tp_rank) of a global rank in a layout of TP degree ``tp``: the SQL macro
    ``rank_coords`` (queries/macros), which the views use too."""
    place = call("rank_coords", rank, tp)
    return place["pp_rank"], place["tp_rank"]


@dataclass(frozen=True)
class Layout:
    """T x P ranks; global rank r has pp_rank r // T and tp_rank r % T."""

    tp: int
    pp: int

    def __post_init__(self) -> None:
        if self.tp < 1 or self.pp < 1:
            raise TracekitError(f"TP and PP must be at least 1 (got TP{self.tp} PP{self.pp})")

    @property
    def world_size(self) -> int:
        return self.tp * self.pp

    def coords(self, rank: int) -> tuple[int, int]:
        """(pp_rank, tp_rank) of a global rank (:func:`rank_coords`)."""
        return rank_coords(rank, self.tp)

    def rank(self, pp_rank: int, tp_rank: int) -> int:
        """The global rank at (pp_rank, tp_rank) (the SQL macro ``rank_at``)."""
        return int(call("rank_at", pp_rank, tp_rank, self.tp))


def stage_layers(layers: int, pp: int) -> list[int]:
    """Decoder layers held by each pipeline stage, as vLLM splits them.

    ``layers // pp`` each; the remainder goes one apiece to the stages just before the
    last (vLLM ``get_pp_indices``), so 28 layers over 8 stages is [3, 3, 3, 4, 4, 4, 4, 3].
    """
    if pp > layers:
        raise TracekitError(f"PP{pp} is more pipeline stages than the model's {layers} layers")
    parts = [layers // pp] * pp
    for i in range(2, layers % pp + 2):
        parts[-i] += 1
    return parts


def wire_factor(op: str, group_size: int, *, is_root: bool = False) -> float:
    """Bytes this rank sends onto the wire per byte of ``msg_bytes`` (ring algorithms).

    all_reduce (ring: reduce-scatter + all-gather): 2(n-1)/n of the buffer;
    all_gather: (n-1)/n of the output; gather: the rank's contribution, except the root,
    whose own part stays local; broadcast (a pipelined chain: every rank but the last
    forwards the buffer): (n-1)/n on average; send: the tensor; recv: nothing (the
    peer's send carries those bytes, so summing over ranks never counts a byte twice).
    """
    n = group_size
    if op == "all_reduce":
        return 2 * (n - 1) / n
    if op == "all_gather":
        return (n - 1) / n
    if op == "gather":
        return 0.0 if is_root else 1.0
    if op == "broadcast":
        return (n - 1) / n
    if op == "send":
        return 1.0
    if op == "recv":
        return 0.0
    raise ValueError(f"unknown op {op!r}")


def bus_factor(op: str, group_size: int) -> float:
    """The nccl-tests bus-bandwidth factor, per byte of ``msg_bytes`` as tracekit sizes it.

    The SQL macro ``busbw_factor`` (queries/macros), which comm_summary and
    collective_instances use too: 2(n-1)/n for all-reduce, (n-1)/n for all-gather (size =
    output), reduce-scatter and all-to-all, (n-1) for gather (nccl-tests sizes the whole
    output, n contributions, with factor (n-1)/n: (n-1) per byte of one rank's
    contribution, which is how tracekit sizes a gather), 1 for every other op (broadcast,
    send, recv, ...). ``bus_bytes / time`` is the busbw the alpha-beta model's beta means.
    """
    return float(call("busbw_factor", op, group_size))
