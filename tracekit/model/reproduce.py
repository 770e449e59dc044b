"""The study's configurations through both models, and whether its claims hold.

:func:`reproduction` computes the figures; :func:`reproduction_markdown` writes them as
the page ``docs/study-reproduction.md`` (``tracekit model --study --format markdown``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tracekit.collect.presets import get_preset
from tracekit.model.layout import Workload
from tracekit.model.predict import predict
from tracekit.model.study import study_volume
from tracekit.model.sweep import sweep

STUDY_MODELS: tuple[str, ...] = ("llama-3.2-3b", "llama-3.1-8b", "llama-2-13b")
STUDY_CONFIGS: tuple[tuple[int, int], ...] = (
    (2, 1),
    (4, 1),
    (8, 1),
    (1, 2),
    (1, 4),
    (1, 8),
    (2, 2),
    (2, 4),
    (4, 2),
)
"""TP 2/4/8, PP 2/4/8, TP x PP on 8 GPUs (8x1 and 1x8 are TP8 and PP8), and TP2 x PP2,
which the study's ranking PP4 < TP2xPP2 < TP4 names."""
STUDY_PROMPT = 128
STUDY_GEN_LENS: tuple[int, ...] = (128, 256, 384, 512)
RANKING: tuple[tuple[int, int], ...] = ((1, 4), (2, 2), (4, 1))
METRICS: tuple[str, ...] = (
    "study_bytes",
    "lane_wire_bytes",
    "max_rank_wire_bytes",
    "total_wire_bytes",
)


def label(tp: int, pp: int) -> str:
    if tp > 1 and pp > 1:
        return f"TP{tp}xPP{pp}"
    return f"PP{pp}" if pp > 1 else f"TP{tp}"


def reproduction(
    models: tuple[str, ...] = STUDY_MODELS,
    gen_lens: tuple[int, ...] = STUDY_GEN_LENS,
    dtype: str = "bf16",
) -> pl.DataFrame:
    """Volumes of the study's configurations: model, config, tp, pp, gen_len, and the
    study formula and tracekit's lane / busiest-rank / all-rank wire bytes (batch 1)."""
    frames = [
        sweep(
            get_preset(m),
            STUDY_CONFIGS,
            Workload(1, STUDY_PROMPT, g, dtype=dtype, sample_feedback="none"),
        ).with_columns(model=pl.lit(m), gen_len=pl.lit(g, dtype=pl.Int64))
        for m in models
        for g in gen_lens
    ]
    return (
        pl.concat(frames)
        .with_columns(
            config=pl.struct("tp", "pp").map_elements(
                lambda c: label(c["tp"], c["pp"]), return_dtype=pl.Utf8
            )
        )
        .select("model", "config", "tp", "pp", "gen_len", "calls", *METRICS)
    )


@dataclass(frozen=True)
class Claim:
    """One of the study's claims checked on one model under one metric."""

    model: str
    metric: str
    gen_len: int
    holds: bool
    detail: str


def ranking_claims(table: pl.DataFrame) -> list[Claim]:
    """PP4 < TP2xPP2 < TP4, per model, metric and output length."""
    claims = []
    for (model, gen_len), group in table.group_by("model", "gen_len", maintain_order=True):
        for metric in METRICS:
            values = [
                group.filter((pl.col("tp") == t) & (pl.col("pp") == p))[metric].item()
                for t, p in RANKING
            ]
            holds = values[0] < values[1] < values[2]
            detail = " < ".join(
                f"{label(t, p)} {v / 1e6:,.1f} MB"
                for (t, p), v in zip(RANKING, values, strict=True)
            )
            claims.append(Claim(str(model), metric, int(gen_len), holds, detail))
    return claims


def growth(table: pl.DataFrame, low: int = 128, high: int = 512) -> pl.DataFrame:
    """Volume at output ``high`` over volume at ``low``, per model, config and metric."""
    keys = ["model", "config", "tp", "pp"]
    a = table.filter(pl.col("gen_len") == low).select(*keys, *METRICS)
    z = table.filter(pl.col("gen_len") == high).select(*keys, *METRICS)
    joined = a.join(z, on=keys, suffix="_hi", maintain_order="left")
    return joined.select(*keys, *[(pl.col(f"{m}_hi") / pl.col(m)).alias(m) for m in METRICS])


def term_table(model: str, tp: int, pp: int, gen_len: int = 128) -> pl.DataFrame:
    """The study's terms beside tracekit's, for one configuration (bf16, batch 1).

    tracekit columns: the lane (tp_rank t-1 of every stage) and the busiest rank, by op,
    without the collector's sample term (vLLM returns sampled ids outside NCCL).
    """
    shape = get_preset(model)
    study = study_volume(shape, tp, pp, prompt_len=STUDY_PROMPT, gen_len=gen_len)
    rows = predict(shape, tp, pp, Workload(1, STUDY_PROMPT, gen_len, sample_feedback="none"))
    lane = rows.filter(pl.col("tp_rank") == tp - 1)
    busiest = rows.group_by("rank").agg(pl.col("wire_bytes").sum()).sort("wire_bytes")
    top = rows.filter(pl.col("rank") == busiest["rank"][-1])
    study_terms = {
        "all_reduce": study.all_reduce,
        "all_gather": study.all_gather,
        "gather": study.gather,
        "send": study.p2p,
    }

    def wire(frame: pl.DataFrame, op: str) -> float:
        return float(frame.filter(pl.col("op") == op)["wire_bytes"].sum())

    return pl.DataFrame(
        {
            "op": list(study_terms),
            "study_bytes": list(study_terms.values()),
            "lane_wire_bytes": [wire(lane, op) for op in study_terms],
            "busiest_rank_wire_bytes": [wire(top, op) for op in study_terms],
        }
    )


def _mb(value: float) -> str:
    return f"{value / 1e6:,.2f}"


def _md_table(frame: pl.DataFrame, formats: dict[str, str] | None = None) -> str:
    formats = formats or {}
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" if dt == pl.Utf8 else "---:" for dt in frame.dtypes) + "|"
    body = []
    for row in frame.iter_rows():
        cells = []
        for name, value in zip(frame.columns, row, strict=True):
            if formats.get(name) == "mb":
                cells.append(_mb(value))
            elif formats.get(name) == "x":
                cells.append(f"{value:.2f}x")
            else:
                cells.append(str(value))
        body.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *body])


def reproduction_markdown() -> str:
    """The study-reproduction page, as Markdown."""
    table = reproduction()
    mb = dict.fromkeys(METRICS, "mb")
    claims = ranking_claims(table)
    lines = [
        "# Study reproduction: communication volume",
        "",
        "Generated by `tracekit model --study --format markdown > docs/study-reproduction.md`;"
        " do not edit by hand.",
        "",
        "The study (Xu et al., arXiv 2507.14392) reports volume formulas for TP, PP and"
        " hybrid layouts of vLLM inference and a ranking PP4 < TP2xPP2 < TP4 that grows"
        " ~2.5x from 128 to 512 output tokens. Below: its configurations, prompt"
        f" {STUDY_PROMPT}, batch 1, bf16, through the study's formulas and through"
        " tracekit's event-level model (see docs/model.md for every term). tracekit's"
        " columns leave out the sample term (token ids returned to the first stage): the"
        " collector has it, vLLM moves those ids on the CPU and the study does not count them.",
        "",
        "Volumes in MB (1e6 bytes) on the wire, ring factors applied:",
        "",
        "- `study_bytes`: the study's formula for the layout (TP, PP or hybrid), verbatim.",
        "- `lane_wire_bytes`: tracekit, bytes sent by one TP lane's ranks (tp_rank t-1 of"
        " every stage) -- the scope of the study's TP and PP formulas.",
        "- `max_rank_wire_bytes`: tracekit, the busiest rank.",
        "- `total_wire_bytes`: tracekit, all ranks (every byte once).",
        "",
    ]
    for model in STUDY_MODELS:
        lines += [f"## {model}", ""]
        for gen_len in (STUDY_GEN_LENS[0], STUDY_GEN_LENS[-1]):
            part = table.filter((pl.col("model") == model) & (pl.col("gen_len") == gen_len))
            lines += [
                f"### output {gen_len} tokens",
                "",
                _md_table(part.select("config", "calls", *METRICS), mb),
                "",
            ]
    lines += ["## Ranking PP4 < TP2xPP2 < TP4", ""]
    lines += ["| model | output | metric | holds | volumes |", "|---|---:|---|---|---|"]
    lines += [
        f"| {c.model} | {c.gen_len} | {c.metric} | {'yes' if c.holds else 'NO'} | {c.detail} |"
        for c in claims
    ]
    held = sum(c.holds for c in claims)
    lines += [
        "",
        f"The ranking holds in {held} of {len(claims)} (model, output, metric) cases.",
        "",
    ]
    grow = growth(table)
    lines += [
        "## Growth from 128 to 512 output tokens",
        "",
        "Volume at output 512 over volume at output 128 (the study reports ~2.5x):",
        "",
        _md_table(grow, dict.fromkeys(METRICS, "x")),
        "",
        f"Range over all rows and metrics: {grow.select(METRICS).min_horizontal().min():.2f}x"
        f" to {grow.select(METRICS).max_horizontal().max():.2f}x. Token count grows"
        f" {(128 + 512 - 1) / (128 + 128 - 1):.2f}x (Sp + Sd - 1: 255 -> 639).",
        "",
        "## Term by term: study formula vs tracekit (llama-3.1-8b, output 128)",
        "",
    ]
    for tp, pp in ((4, 1), (1, 4), (2, 2), (2, 4)):
        lines += [
            f"### {label(tp, pp)}",
            "",
            _md_table(
                term_table("llama-3.1-8b", tp, pp),
                {
                    "study_bytes": "mb",
                    "lane_wire_bytes": "mb",
                    "busiest_rank_wire_bytes": "mb",
                },
            ),
            "",
        ]
    return "\n".join(lines)
