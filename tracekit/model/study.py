"""The study's published volume formulas, verbatim (Xu et al., arXiv 2507.14392).

Symbols: L layers, h hidden, v vocab, t TP degree, p PP degree, Sp prompt length,
Sd output length, b bytes per element. "Volume" is bytes on the wire with ring
factors. The formulas have no batch; ``batch`` scales every token count (B = 1 is
the study's single request, and the formulas verbatim).

- TP:     V = (2L + 1)(Sp + Sd - 1) h b 2(t-1)/t + Sd (v/t) b
- PP:     V = (p - 1) 2 (Sp + Sd - 1) h b
- Hybrid: V = V_ar + V_ag + V_g + V_p2p
    V_ar  = (2L/p)(Sp + Sd - 1) h b 2(t-1)/t
    V_ag  = 2(p - 1)(Sp + Sd - 1) h b (t-1)/t
    V_g   = Sd (v/t) b
    V_p2p = (p - 1) 2 (Sp + Sd - 1)(h/t) b

Which of them applies: t > 1 and p = 1 the TP formula, t = 1 and p > 1 the PP formula,
both > 1 the hybrid, t = p = 1 nothing moves.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracekit.collect.presets import ModelShape
from tracekit.model.layout import dtype_bytes


@dataclass(frozen=True)
class StudyVolume:
    """The study's volume of one configuration, term by term (bytes, floats as published).

    ``formula`` is 'tp', 'pp', 'hybrid' or 'none'. For TP the all-reduce term includes
    the embedding (the ``+ 1`` in 2L + 1); the hybrid formula has no embedding term.
    Counts are the study's: TP (2L+1) Sd all-reduces and Sd gathers per rank; PP
    2(p-1) sends per step.
    """

    tp: int
    pp: int
    formula: str
    all_reduce: float
    all_gather: float
    gather: float
    p2p: float
    all_reduce_calls: int | None
    gather_calls: int | None
    send_calls: int | None

    @property
    def total(self) -> float:
        return self.all_reduce + self.all_gather + self.gather + self.p2p


def study_tp_volume(
    shape: ModelShape, t: int, prompt_len: int, gen_len: int, b: int, batch: int = 1
) -> StudyVolume:
    """V_tp = (2L + 1)(Sp + Sd - 1) h b 2(t-1)/t + Sd (v/t) b."""
    L, h, v = shape.layers, shape.hidden, shape.vocab
    n = batch * (prompt_len + gen_len - 1)
    ar = (2 * L + 1) * n * h * b * 2 * (t - 1) / t
    g = batch * gen_len * (v / t) * b
    return StudyVolume(t, 1, "tp", ar, 0.0, g, 0.0, (2 * L + 1) * gen_len, gen_len, None)


def study_pp_volume(
    shape: ModelShape, p: int, prompt_len: int, gen_len: int, b: int, batch: int = 1
) -> StudyVolume:
    """V_pp = (p - 1) 2 (Sp + Sd - 1) h b."""
    n = batch * (prompt_len + gen_len - 1)
    p2p = (p - 1) * 2 * n * shape.hidden * b
    return StudyVolume(1, p, "pp", 0.0, 0.0, 0.0, p2p, None, None, 2 * (p - 1) * gen_len)


def study_hybrid_volume(
    shape: ModelShape, t: int, p: int, prompt_len: int, gen_len: int, b: int, batch: int = 1
) -> StudyVolume:
    """V = V_ar + V_ag + V_g + V_p2p (no embedding term, as published)."""
    L, h, v = shape.layers, shape.hidden, shape.vocab
    n = batch * (prompt_len + gen_len - 1)
    ar = (2 * L / p) * n * h * b * 2 * (t - 1) / t
    ag = 2 * (p - 1) * n * h * b * (t - 1) / t
    g = batch * gen_len * (v / t) * b
    p2p = (p - 1) * 2 * n * (h / t) * b
    return StudyVolume(t, p, "hybrid", ar, ag, g, p2p, None, None, None)


def study_volume(
    shape: ModelShape,
    tp: int,
    pp: int,
    *,
    prompt_len: int,
    gen_len: int,
    dtype: str = "bf16",
    batch: int = 1,
) -> StudyVolume:
    """The study's formula that applies to a TP x PP configuration."""
    b = dtype_bytes(dtype)
    if tp > 1 and pp > 1:
        return study_hybrid_volume(shape, tp, pp, prompt_len, gen_len, b, batch)
    if tp > 1:
        return study_tp_volume(shape, tp, prompt_len, gen_len, b, batch)
    if pp > 1:
        return study_pp_volume(shape, pp, prompt_len, gen_len, b, batch)
    return StudyVolume(1, 1, "none", 0.0, 0.0, 0.0, 0.0, 0, 0, 0)
