"""The study report: ``report.md`` and a self-contained ``report.html`` (tables and
inline SVG figures, no network) from a :class:`~tracekit.study.compare.Comparison`.

Setup from the manifests, the comparison tables, the figures, the rankings by volume
and latency, and the study's findings (docs/study.md) checked against the
measurements: each holds or does not hold here, with the numbers.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from markdown_it import MarkdownIt

from tracekit.render import ns_as_ms
from tracekit.study.compare import Comparison

WORKLOAD = ["model", "dtype", "batch", "prompt_len", "gen_len"]
SETUP = ["backend", "hosts", "devices", "torch_version", "cuda_version", "nccl_version"]
MAIN = [
    "run_id",
    "layout",
    "model",
    "dtype",
    "batch",
    "prompt_len",
    "gen_len",
    "calls",
    "pred_calls",
    "bytes",
    "pred_bytes",
    "bytes_ratio",
    "max_rank_bytes",
    "tp_lane_bytes",
    "ttft_ns",
    "tpot_ns",
    "e2e_ns",
    "comm_pct",
    "e2e_exposed_comm_pct",
    "model_match",
]
"""The columns of the comparison table (table and Markdown outputs, the report)."""

FIGURES = {
    "study_bytes_by_op": "Communication volume by collective, measured and predicted",
    "study_latency": "TTFT and TPOT by layout",
    "study_exposed_share": "Communication share of end-to-end latency",
    "study_volume_vs_length": "Communication volume against output length",
}


@dataclass(frozen=True)
class Finding:
    """One of the study's claims, for one workload, against the measurements."""

    claim: str
    workload: str
    holds: bool
    numbers: str


def markdown_table(df: pl.DataFrame) -> str:
    """``df`` as a GitHub Markdown table (Polars' own Markdown formatting, every row)."""
    with pl.Config(
        tbl_formatting="MARKDOWN",
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=10_000,
        fmt_str_lengths=200,
    ):
        return str(df)


def _workloads(runs: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    """The runs with a layout, grouped by workload (model, dtype, batch, Sp, Sd)."""
    known = runs.filter(pl.col("layout").is_not_null())
    groups = []
    for key, part in known.group_by(WORKLOAD, maintain_order=True):
        model, dtype, batch, prompt, gen = key
        groups.append((f"{model} {dtype} B={batch} Sp={prompt} Sd={gen}", part))
    return groups


def _tp_pp(part: pl.DataFrame) -> tuple[dict, dict, list[dict]]:
    rows = part.to_dicts()
    tp_only = [r for r in rows if r["pp"] == 1 and r["tp"] > 1]
    pp_only = [r for r in rows if r["tp"] == 1 and r["pp"] > 1]
    return (tp_only[0] if tp_only else {}), (pp_only[0] if pp_only else {}), rows


def findings(runs: pl.DataFrame) -> list[Finding]:
    """The study's findings, per workload that has a TP-only and a PP-only layout."""
    out: list[Finding] = []
    for name, part in _workloads(runs):
        tp, pp, rows = _tp_pp(part)
        if not tp or not pp or any(r["bytes"] is None for r in rows):
            continue
        hybrids = [r for r in rows if r["tp"] > 1 and r["pp"] > 1]
        order = sorted(rows, key=lambda r: r["bytes"])
        volumes = " < ".join(f"{r['layout']} {r['bytes'] / 1e3:,.1f} kB" for r in order)
        least_pp = order[0]["layout"] == pp["layout"]
        out.append(Finding("PP moves the least data", name, least_pp, volumes))
        most_tp = order[-1]["layout"] == tp["layout"]
        out.append(Finding("TP moves the most data", name, most_tp, volumes))
        if hybrids:
            between = all(pp["bytes"] < h["bytes"] < tp["bytes"] for h in hybrids)
            out.append(Finding("hybrids sit between PP and TP", name, between, volumes))
        if tp["ttft_ns"] is not None and pp["ttft_ns"] is not None:
            out.append(
                Finding(
                    "TP responds faster (TTFT) than PP",
                    name,
                    tp["ttft_ns"] < pp["ttft_ns"],
                    f"TTFT {tp['layout']} {tp['ttft_ns'] / 1e6:.1f} ms, "
                    f"{pp['layout']} {pp['ttft_ns'] / 1e6:.1f} ms",
                )
            )
            out.append(
                Finding(
                    "PP adds end-to-end latency over TP",
                    name,
                    pp["e2e_ns"] > tp["e2e_ns"],
                    f"end to end {pp['layout']} {pp['e2e_ns'] / 1e6:.1f} ms, "
                    f"{tp['layout']} {tp['e2e_ns'] / 1e6:.1f} ms",
                )
            )
    out += _growth(runs)
    return out


def _growth(runs: pl.DataFrame) -> list[Finding]:
    """Volume grows with output length (the study: ~2.5x from 128 to 512 tokens)."""
    known = runs.filter(pl.col("layout").is_not_null() & pl.col("bytes").is_not_null())
    out = []
    for key, part in known.group_by(["layout", "model", "batch", "prompt_len"]):
        part = part.sort("gen_len")
        if part.height < 2:
            continue
        first, last = part.row(0, named=True), part.row(-1, named=True)
        ratio = last["bytes"] / first["bytes"]
        out.append(
            Finding(
                "volume grows with output length",
                f"{key[0]} Sd {first['gen_len']} to {last['gen_len']}",
                ratio > 1,
                f"{first['bytes'] / 1e3:,.1f} to {last['bytes'] / 1e3:,.1f} kB ({ratio:.2f}x)",
            )
        )
    return sorted(out, key=lambda f: f.workload)


def _ranking(runs: pl.DataFrame) -> str:
    lines = []
    for name, part in _workloads(runs):
        by_bytes = part.sort("bytes", nulls_last=True)["layout"].to_list()
        by_e2e = part.sort("e2e_ns", nulls_last=True)["layout"].to_list()
        lines.append(
            f"- {name}: by volume {' < '.join(by_bytes)}; "
            f"by end-to-end latency {' < '.join(by_e2e)}"
        )
    return "\n".join(lines) or "No run has a layout (no manifest): nothing to rank."


def _sections(result: Comparison, figures: dict[str, str]) -> list[str]:
    runs = result.runs
    setup = runs.select("run_id", *SETUP).with_columns(pl.col("hosts", "devices").list.join(", "))
    found = findings(runs)
    verdicts = pl.DataFrame(
        {
            "claim": [f.claim for f in found],
            "workload": [f.workload for f in found],
            "here": ["holds" if f.holds else "does not hold" for f in found],
            "numbers": [f.numbers for f in found],
        },
        schema={"claim": pl.Utf8, "workload": pl.Utf8, "here": pl.Utf8, "numbers": pl.Utf8},
    )
    by_op = result.by_op.filter(pl.col("phase") != "outside")
    notes = "\n".join(f"- {run}: {note}" for run, note in result.notes())
    parts = [
        "# tracekit study report",
        "## Setup",
        markdown_table(setup),
        "## Comparison (sorted by measured bytes; times in ms)",
        markdown_table(ns_as_ms(runs.select(MAIN))),
        notes,
        "## Measured and predicted, per collective and phase",
        markdown_table(by_op) if len(by_op) else "No run has a prediction.",
        "## Ranking",
        _ranking(runs),
        "## The study's findings, checked here",
        "Xu et al. (arXiv 2507.14392): TP has the highest network volume but the fastest "
        "response for short sequences; PP moves the least data but adds latency; hybrids "
        "sit between. On the CPU (gloo) collectives block the calling thread, so the "
        "latency findings say little about GPUs.",
        markdown_table(verdicts) if found else "No workload has both a TP and a PP layout.",
        "## Figures",
        *(figures[stem] for stem in FIGURES if stem in figures),
    ]
    return [p for p in parts if p]


def write_report(result: Comparison, out_dir: Path, figure_dir: Path | None) -> list[Path]:
    """Write ``out_dir/report.md`` (figures linked) and ``out_dir/report.html`` (figures
    inline); returns both paths."""
    linked: dict[str, str] = {}
    inline: dict[str, str] = {}
    for stem, title in FIGURES.items():
        svg = None if figure_dir is None else figure_dir / f"{stem}.svg"
        if svg is None or not svg.is_file():
            continue
        rel = Path(os.path.relpath(svg.resolve(), out_dir.resolve()))
        linked[stem] = f"![{title}]({rel.as_posix()})"
        text = svg.read_text()
        inline[stem] = f"<figure>{text[text.index('<svg') :]}</figure>"
    md = out_dir / "report.md"
    md.write_text("\n\n".join(_sections(result, linked)) + "\n")
    body = MarkdownIt("commonmark", {"html": True}).enable("table")
    page = out_dir / "report.html"
    page.write_text(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape('tracekit study report')}</title>"
        "<style>body{font-family:sans-serif;max-width:80em;margin:auto}"
        "table{border-collapse:collapse;font-size:85%}td,th{border:1px solid #ccc;"
        "padding:2px 6px}figure svg{max-width:100%;height:auto}</style></head><body>\n"
        + body.render("\n\n".join(_sections(result, inline)))
        + "</body></html>\n"
    )
    return [md, page]
