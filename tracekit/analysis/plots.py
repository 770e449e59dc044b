"""Charts of the analyses (matplotlib, Agg backend): each function takes the DataFrames
the analysis API returns, writes a PNG and an SVG into ``out_dir`` and returns their paths.
Nothing here queries the database.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

COLORS = {"compute": "#4c72b0", "comm": "#dd8452", "overlapped": "#55a868", "exposed": "#c44e52"}


def _save(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    for path in paths:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return paths


def timeline(
    islands: pl.DataFrame, out_dir: Path, *, start_ns: int, end_ns: int, title: str = ""
) -> list[Path]:
    """Per-rank lanes of compute and communication over [start_ns, end_ns) (ms from start)."""
    lanes = islands.select("rank", "device").unique().sort("rank", "device", nulls_last=True)
    fig, ax = plt.subplots(figsize=(12, 0.8 + 0.6 * max(len(lanes), 1)))
    labels: list[str] = []
    for row_index, (rank, device) in enumerate(lanes.iter_rows()):
        lane = islands.filter(
            (pl.col("rank") == rank)
            & (pl.col("device").is_null() if device is None else pl.col("device") == device)
        )
        for offset, cls in ((0.05, "compute"), (0.5, "comm")):
            part = lane.filter(pl.col("cls") == cls)
            bars = [
                ((s - start_ns) / 1e6, (e - s) / 1e6)
                for s, e in part.select("s_ns", "e_ns").iter_rows()
            ]
            ax.broken_barh(
                bars,
                (row_index + offset, 0.4),
                color=COLORS[cls],
                label=cls if row_index == 0 else None,
            )
        labels.append(f"rank {rank}" + ("" if device is None else f" gpu{device}"))
    ax.set_yticks([i + 0.5 for i in range(len(labels))], labels)
    ax.set_ylim(0, max(len(labels), 1))
    ax.set_xlim(0, (end_ns - start_ns) / 1e6)
    ax.invert_yaxis()
    ax.set_xlabel(f"ms from {start_ns / 1e6:,.3f} ms")
    ax.set_title(title or "compute (upper) and communication (lower) per rank")
    ax.legend(loc="upper right")
    return _save(fig, out_dir, "timeline")


def _stacked(df: pl.DataFrame, key: str, out_dir: Path, stem: str, title: str) -> list[Path]:
    sums = (
        df.group_by(key)
        .agg(pl.col("overlap_ns").sum(), pl.col("exposed_comm_ns").sum())
        .sort(key, nulls_last=True)
    )
    names = ["unattributed" if v is None else str(v) for v in sums[key].to_list()]
    overlapped = [v / 1e6 for v in sums["overlap_ns"].to_list()]
    exposed = [v / 1e6 for v in sums["exposed_comm_ns"].to_list()]
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(names) + 2), 4))
    ax.bar(names, exposed, color=COLORS["exposed"], label="exposed")
    ax.bar(names, overlapped, bottom=exposed, color=COLORS["overlapped"], label="overlapped")
    ax.set_xlabel(key)
    ax.set_ylabel("communication time, ms (sum over ranks)")
    ax.set_title(title)
    ax.legend()
    return _save(fig, out_dir, stem)


def overlap_by_layer(df: pl.DataFrame, out_dir: Path) -> list[Path]:
    """Exposed and overlapped communication per layer (rows of overlap_by_layer)."""
    return _stacked(df, "layer", out_dir, "overlap_by_layer", "communication by layer")


def exposed_by_stage(df: pl.DataFrame, out_dir: Path) -> list[Path]:
    """Exposed and overlapped communication per pipeline stage (rows of overlap_by_stage)."""
    return _stacked(df, "stage", out_dir, "exposed_by_stage", "communication by pipeline stage")
