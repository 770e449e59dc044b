"""tracekit's event-level prediction: every collective each rank issues, per phase.

One row per (rank, phase, term, op): how many calls, the payload of one call as
nccl-tests sizes it, and the bytes the rank puts on the wire. The terms follow the
workload that ``tracekit collect`` runs (a vLLM/Megatron-sharded Llama decoder):

========== ============ =================================================================
term       op           per step
========== ============ =================================================================
embedding  all_reduce   first stage, TP>1: vocab-parallel embedding, tokens x h x b
layer      all_reduce   TP>1: 2 per layer of the stage (attention out, MLP down)
pp         send         non-last stage: hidden_states and residual, tokens x h/t x b each
pp         recv         non-first stage: the same two tensors
pp         all_gather   non-first stage, TP>1: rebuild each tensor, output tokens x h x b
logits     gather       last stage, TP>1: to TP rank 0, logits_tokens x v/t x b each
logits     all_gather   instead of the gather with ``logits_collective="all_gather"``
                        (vLLM V1): every TP rank gets them, output logits_tokens x v x b
sample     send / recv  PP>1: sampled ids (int64, B) from the last stage's TP rank 0 to
                        rank 0, every step
sample     broadcast    first stage, TP>1: rank 0 gives the ids to its TP group, every step
========== ============ =================================================================

The sample term is how ``tracekit collect`` returns tokens (collectors/parallel.py
``Comm.return_tokens``); vLLM moves them on the CPU outside NCCL and the study has no
such term, so ``sample_feedback="none"`` leaves it out. A group of one rank issues no
collective (vLLM and the collector return early when the TP world is 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from tracekit.collect.presets import ModelShape
from tracekit.errors import TracekitError
from tracekit.model.layout import (
    SAMPLE_DTYPE_BYTES,
    Layout,
    Workload,
    bus_factor,
    dtype_bytes,
    stage_layers,
    wire_factor,
)

ROW_SCHEMA: dict[str, type[pl.DataType]] = {
    "rank": pl.Int64,
    "pp_rank": pl.Int64,
    "tp_rank": pl.Int64,
    "phase": pl.Utf8,
    "term": pl.Utf8,
    "op": pl.Utf8,
    "group_size": pl.Int64,
    "peer": pl.Int64,
    "count": pl.Int64,
    "msg_bytes": pl.Int64,
    "total_bytes": pl.Int64,
    "wire_bytes": pl.Float64,
    "bus_bytes": pl.Float64,
}


@dataclass(frozen=True)
class _Row:
    rank: int
    pp_rank: int
    tp_rank: int
    phase: str
    term: str
    op: str
    group_size: int
    peer: int | None
    count: int
    msg_bytes: int

    def as_dict(self) -> dict[str, object]:
        is_root = self.op == "gather" and self.tp_rank == 0
        wire = wire_factor(self.op, self.group_size, is_root=is_root)
        bus = bus_factor(self.op, self.group_size)
        return {
            "rank": self.rank,
            "pp_rank": self.pp_rank,
            "tp_rank": self.tp_rank,
            "phase": self.phase,
            "term": self.term,
            "op": self.op,
            "group_size": self.group_size,
            "peer": self.peer,
            "count": self.count,
            "msg_bytes": self.msg_bytes,
            "total_bytes": self.count * self.msg_bytes,
            "wire_bytes": self.count * self.msg_bytes * wire,
            "bus_bytes": self.msg_bytes * bus,
        }


def _steps(workload: Workload) -> list[tuple[str, int, int]]:
    """(phase, steps, tokens per step) for the phases that have steps."""
    phases = [("prefill", 1, workload.prefill_tokens)]
    if workload.decode_steps:
        phases.append(("decode", workload.decode_steps, workload.decode_tokens))
    return phases


def predict(
    shape: ModelShape,
    tp: int,
    pp: int,
    work: Workload,
    *,
    layers_per_stage: Sequence[int] | None = None,
) -> pl.DataFrame:
    """Every collective each rank issues over one request (``work``), per phase and term.

    Columns: rank, pp_rank, tp_rank, phase, term, op, group_size, peer (send/recv only),
    count, msg_bytes (one call, nccl-tests size: all_reduce buffer, all_gather output,
    gather one rank's contribution, broadcast buffer, send/recv tensor),
    total_bytes = count x msg_bytes, wire_bytes (bytes this rank sends, ring factors,
    see ``wire_factor``), bus_bytes (one call's bytes in nccl-tests busbw terms, for the
    time model).
    """
    layout = Layout(tp, pp)
    b = dtype_bytes(work.dtype)
    h, v, t = shape.hidden, shape.vocab, tp
    if h % t:
        raise TracekitError(f"hidden size {h} of {shape.name} does not split over TP{t}")
    layers = list(layers_per_stage or stage_layers(shape.layers, pp))
    if len(layers) != pp or sum(layers) != shape.layers:
        raise TracekitError(
            f"layers per stage {layers} do not cover {shape.layers} layers in {pp} stages"
        )
    vocab_shard = math.ceil(v / t)
    ids = work.batch * SAMPLE_DTYPE_BYTES
    sample_p2p = {0: ("recv", layout.rank(pp - 1, 0)), layout.rank(pp - 1, 0): ("send", 0)}
    rows: list[_Row] = []
    for rank in range(layout.world_size):
        s, j = layout.coords(rank)
        first, last = s == 0, s == pp - 1
        for phase, steps, n in _steps(work):
            act = n * h * b  # one activation tensor of the step
            calls: list[tuple[str, str, int, int, int, int | None]] = []
            if t > 1 and first:
                calls.append(("embedding", "all_reduce", t, 1, act, None))
            if t > 1:
                calls.append(("layer", "all_reduce", t, 2 * layers[s], act, None))
            if not first:
                calls.append(("pp", "recv", 1, 2, act // t, layout.rank(s - 1, j)))
            if not first and t > 1:
                calls.append(("pp", "all_gather", t, 2, act, None))
            if not last:
                calls.append(("pp", "send", 1, 2, act // t, layout.rank(s + 1, j)))
            if last and t > 1:
                logits = work.logits_tokens(n) * vocab_shard * b
                if work.logits_collective == "all_gather":
                    calls.append(("logits", "all_gather", t, 1, logits * t, None))
                else:
                    calls.append(("logits", "gather", t, 1, logits, None))
            if work.sample_feedback == "every_step" and pp > 1 and rank in sample_p2p:
                op, peer = sample_p2p[rank]
                calls.append(("sample", op, 1, 1, ids, peer))
            if work.sample_feedback == "every_step" and first and t > 1:
                calls.append(("sample", "broadcast", t, 1, ids, None))
            rows += [
                _Row(rank, s, j, phase, term, op, group, peer, per_step * steps, msg)
                for term, op, group, per_step, msg, peer in calls
                if per_step
            ]
    return pl.DataFrame([r.as_dict() for r in rows], schema=ROW_SCHEMA, orient="row")


@dataclass(frozen=True)
class Volume:
    """One configuration's communication, summed from :func:`predict`'s rows.

    total_wire_bytes: all ranks (every byte on the wire once); max_rank_wire_bytes: the
    busiest rank; lane_wire_bytes: the ranks one TP lane's activations pass through
    (tp_rank t-1 of each stage, a non-root of the logits gather) -- the scope the study's
    TP and PP formulas use; calls: collective calls, all ranks.
    """

    tp: int
    pp: int
    calls: int
    payload_bytes: int
    total_wire_bytes: float
    max_rank_wire_bytes: float
    lane_wire_bytes: float


def volume(rows: pl.DataFrame, tp: int, pp: int) -> Volume:
    """Sum :func:`predict` rows of one configuration into a :class:`Volume`."""
    if rows.is_empty():
        return Volume(tp, pp, 0, 0, 0.0, 0.0, 0.0)
    per_rank = rows.group_by("rank").agg(pl.col("wire_bytes").sum())
    lane = rows.filter(pl.col("tp_rank") == tp - 1)["wire_bytes"].sum()
    return Volume(
        tp=tp,
        pp=pp,
        calls=int(rows["count"].sum()),
        payload_bytes=int(rows["total_bytes"].sum()),
        total_wire_bytes=float(rows["wire_bytes"].sum()),
        max_rank_wire_bytes=float(per_rank["wire_bytes"].max()),  # type: ignore[arg-type]
        lane_wire_bytes=float(lane),
    )


def by_op(rows: pl.DataFrame, *, per_rank: bool = False) -> pl.DataFrame:
    """Counts, bytes and wire bytes per (phase, op), optionally per rank too."""
    keys = (["rank", "pp_rank", "tp_rank"] if per_rank else []) + ["phase", "op"]
    return (
        rows.group_by(keys)
        .agg(
            pl.col("count").sum(),
            pl.col("msg_bytes").unique().sort().alias("msg_sizes"),
            pl.col("total_bytes").sum(),
            pl.col("wire_bytes").sum(),
        )
        .sort(keys)
    )
