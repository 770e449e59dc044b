"""Sweep ranking and the study-reproduction page."""

from pathlib import Path

import polars as pl
import pytest

from tracekit.collect.presets import get_preset
from tracekit.errors import TracekitError
from tracekit.model.alpha_beta import uniform
from tracekit.model.layout import Workload
from tracekit.model.reproduce import (
    growth,
    ranking_claims,
    reproduction,
    reproduction_markdown,
    term_table,
)
from tracekit.model.sweep import configurations, sweep

DOCS = Path(__file__).resolve().parents[2] / "docs" / "study-reproduction.md"


def test_configurations_filter_by_gpus() -> None:
    assert configurations([1, 2, 4, 8], [1, 2, 4, 8], 8) == [(1, 8), (2, 4), (4, 2), (8, 1)]
    assert len(configurations([1, 2], [1, 2])) == 4
    with pytest.raises(TracekitError):
        configurations([2], [2], 8)


def test_sweep_ranks_by_total_volume() -> None:
    ranked = sweep(
        get_preset("llama-3.1-8b"),
        configurations([1, 2, 4, 8], [1, 2, 4, 8], 8),
        Workload(1, 128, 128, sample_feedback="none"),
        time_model=uniform(10, 100),
    )
    assert ranked.select("tp", "pp").rows() == [(1, 8), (2, 4), (4, 2), (8, 1)]
    assert ranked["place"].to_list() == [1, 2, 3, 4]
    assert ranked["total_wire_bytes"].is_sorted()
    assert ranked["comm_time_s"].null_count() == 0
    tp8 = ranked.filter(pl.col("tp") == 8).row(0, named=True)
    assert tp8["lane_wire_bytes"] == tp8["study_bytes"]  # TP formula == one non-root rank


def test_study_ranking_holds_everywhere() -> None:
    table = reproduction()
    claims = ranking_claims(table)
    assert len(claims) == 3 * 4 * 4  # models x output lengths x metrics
    assert all(c.holds for c in claims), [c for c in claims if not c.holds]


def test_growth_128_to_512() -> None:
    grow = growth(reproduction())
    study = grow["study_bytes"]
    assert study.min() == pytest.approx(639 / 255, rel=1e-3)  # PP: tokens alone
    assert study.max() < 3.1
    assert grow.filter(pl.col("config") == "TP4")["total_wire_bytes"].to_list() == pytest.approx(
        [2.57, 2.55, 2.51], abs=0.01
    )


def test_term_table_tp_matches_study() -> None:
    terms = term_table("llama-3.1-8b", 4, 1)
    assert terms["lane_wire_bytes"].to_list() == pytest.approx(terms["study_bytes"].to_list())


def test_docs_page_is_current() -> None:
    assert DOCS.read_text() == reproduction_markdown() + "\n", (
        "regenerate: tracekit model --study --format markdown > docs/study-reproduction.md"
    )
