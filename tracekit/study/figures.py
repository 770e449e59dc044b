"""The study's figures from a :class:`~tracekit.study.compare.Comparison` (matplotlib,
Agg backend): each writes a PNG and an SVG (text kept as text, so the labels and values
can be read back) and returns their paths. Nothing here queries the database.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"

import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tracekit.study.compare import Comparison  # noqa: E402


def _save(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    for path in paths:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return paths


def labels(runs: pl.DataFrame) -> list[str]:
    """A run's label: its layout and output length (``TP2xPP2 Sd=3``), else its id."""
    return [
        f"{layout} Sd={gen}" if layout else run_id
        for run_id, layout, gen in runs.select("run_id", "layout", "gen_len").iter_rows()
    ]


def _bar_values(ax: Axes, bars: object, fmt: str) -> None:
    ax.bar_label(bars, fmt=fmt, fontsize=7)  # type: ignore[arg-type]


def bytes_by_op(result: Comparison, out_dir: Path) -> list[Path]:
    """Bytes per run stacked by op: measured (left bar) and predicted (right, hatched)."""
    runs = result.runs
    inside = result.by_op.filter(pl.col("phase") != "outside")
    ops = sorted(set(inside["op"].to_list()))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(runs)), 4.5))
    x = list(range(len(runs)))
    for side, column, hatch in ((-0.2, "meas_bytes", None), (0.2, "pred_bytes", "//")):
        bottom = [0.0] * len(runs)
        for i, op in enumerate(ops):
            per_run = dict(
                inside.filter(pl.col("op") == op)
                .group_by("run_id")
                .agg(pl.col(column).sum())
                .iter_rows()
            )
            kb = [per_run.get(r, 0) / 1e3 for r in runs["run_id"]]
            ax.bar(
                [v + side for v in x],
                kb,
                0.38,
                bottom=bottom,
                color=f"C{i}",
                hatch=hatch,
                edgecolor="white",
                label=op if hatch is None else None,
            )
            bottom = [b + k for b, k in zip(bottom, kb, strict=True)]
        for xi, total in zip(x, bottom, strict=True):
            ax.text(xi + side, total, f"{total:,.1f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, labels(runs), rotation=20, ha="right")
    ax.margins(y=0.1)
    ax.set_ylabel("payload bytes, all ranks (kB)")
    ax.set_title("Communication volume by collective: measured (solid) vs model (hatched)")
    ax.legend(title="collective", fontsize=8)
    return _save(fig, out_dir, "study_bytes_by_op")


def latency(result: Comparison, out_dir: Path) -> list[Path]:
    """TTFT and TPOT per run (ms)."""
    runs = result.runs
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(runs)), 4))
    x = list(range(len(runs)))
    for side, column, name in ((-0.2, "ttft_ns", "TTFT"), (0.2, "tpot_ns", "TPOT")):
        ms = [None if v is None else v / 1e6 for v in runs[column]]
        bars = ax.bar([v + side for v in x], [m or 0 for m in ms], 0.38, label=name)
        _bar_values(ax, bars, "%.1f")
    ax.set_xticks(x, labels(runs), rotation=20, ha="right")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Time to first token and time per output token by layout")
    ax.legend()
    return _save(fig, out_dir, "study_latency")


def exposed_share(result: Comparison, out_dir: Path) -> list[Path]:
    """Communication time and exposed communication as a share of end-to-end latency."""
    runs = result.runs
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(runs)), 4))
    x = list(range(len(runs)))
    for side, column, name in (
        (-0.2, "comm_pct", "communication"),
        (0.2, "e2e_exposed_comm_pct", "exposed communication"),
    ):
        bars = ax.bar([v + side for v in x], [v or 0 for v in runs[column]], 0.38, label=name)
        _bar_values(ax, bars, "%.1f")
    ax.set_xticks(x, labels(runs), rotation=20, ha="right")
    ax.set_ylabel("share of end-to-end latency (%)")
    ax.set_ylim(0, 110)
    ax.set_title("Communication share of end-to-end latency by layout (busiest rank)")
    ax.legend()
    return _save(fig, out_dir, "study_exposed_share")


def volume_vs_length(result: Comparison, out_dir: Path) -> list[Path]:
    """Measured (markers) and predicted (dashed) bytes against output length, per layout."""
    runs = result.runs.filter(pl.col("layout").is_not_null() & pl.col("gen_len").is_not_null())
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, (layout,) in enumerate(runs.select("layout").unique(maintain_order=True).iter_rows()):
        part = runs.filter(pl.col("layout") == layout).sort("gen_len")
        gen = part["gen_len"].to_list()
        ax.plot(gen, [b / 1e3 for b in part["bytes"]], "o-", color=f"C{i}", label=layout)
        ax.plot(gen, [(b or 0) / 1e3 for b in part["pred_bytes"]], "--", color=f"C{i}")
        for g, b in zip(gen, part["bytes"], strict=True):
            ax.annotate(
                f"{b / 1e3:,.1f}",
                (g, b / 1e3),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xticks(sorted(set(runs["gen_len"].to_list())))
    ax.set_xlabel("output length Sd (tokens)")
    ax.set_ylabel("payload bytes, all ranks (kB)")
    ax.set_title("Communication volume vs output length (measured; model dashed)")
    ax.legend(title="layout")
    return _save(fig, out_dir, "study_volume_vs_length")


def all_figures(result: Comparison, out_dir: Path) -> list[Path]:
    """Every figure of the study."""
    return [
        *bytes_by_op(result, out_dir),
        *latency(result, out_dir),
        *exposed_share(result, out_dir),
        *volume_vs_length(result, out_dir),
    ]
