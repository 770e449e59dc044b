"""tracekit's event-level prediction against cases worked by hand.

The tiny preset: L = 4 layers, h = 64, v = 512; fp32 (b = 4); batch B = 2, prompt
Sp = 3, output Sd = 4: one prefill step of 6 tokens (a tensor of 6 x 64 x 4 = 1536
bytes) and 3 decode steps of 2 tokens (512 bytes).
"""

from dataclasses import replace

import polars as pl
import pytest

from tracekit.collect.presets import get_preset
from tracekit.errors import TracekitError
from tracekit.model.layout import Workload
from tracekit.model.predict import by_op, predict, volume
from tracekit.model.study import study_volume

TINY = get_preset("tiny")
WORK = Workload(batch=2, prompt_len=3, gen_len=4, dtype="fp32")


def calls(rows: pl.DataFrame) -> dict[tuple[int, str, str, str], tuple[int, int, int | None]]:
    return {
        (r["rank"], r["phase"], r["term"], r["op"]): (r["count"], r["msg_bytes"], r["peer"])
        for r in rows.iter_rows(named=True)
    }


def test_logits_by_all_gather_as_vllm_v1() -> None:
    """Item 14: every TP rank of the last stage gets the logits; one all-gather replaces
    the gather, sized by its output (t x the gather's 2048 bytes); the rest is unchanged."""
    gathered = predict(TINY, 2, 2, WORK)
    rows = predict(TINY, 2, 2, replace(WORK, logits_collective="all_gather"))
    got = calls(rows)
    for rank in (2, 3):
        assert got[(rank, "prefill", "logits", "all_gather")] == (1, 4096, None)
        assert got[(rank, "decode", "logits", "all_gather")] == (3, 4096, None)
    assert rows.filter(pl.col("term") != "logits").equals(
        gathered.filter(pl.col("term") != "logits")
    )
    assert set(gathered.filter(pl.col("term") == "logits")["op"]) == {"gather"}
    with pytest.raises(TracekitError, match="logits collective"):
        replace(WORK, logits_collective="reduce_scatter")


def test_tp2() -> None:
    rows = predict(TINY, 2, 1, WORK)
    got = calls(rows)
    for rank in (0, 1):
        assert got[(rank, "prefill", "embedding", "all_reduce")] == (1, 1536, None)
        assert got[(rank, "prefill", "layer", "all_reduce")] == (8, 1536, None)
        assert got[(rank, "decode", "embedding", "all_reduce")] == (3, 512, None)
        assert got[(rank, "decode", "layer", "all_reduce")] == (24, 512, None)
        # logits of the last position of each of the 2 sequences: 2 x 512/2 x 4 bytes
        assert got[(rank, "prefill", "logits", "gather")] == (1, 2048, None)
        assert got[(rank, "decode", "logits", "gather")] == (3, 2048, None)
        # rank 0 broadcasts the sampled ids (2 x int64) to its TP group every step
        assert got[(rank, "prefill", "sample", "broadcast")] == (1, 16, None)
        assert got[(rank, "decode", "sample", "broadcast")] == (3, 16, None)
    assert len(got) == 16
    per_rank = rows.group_by("rank").agg(pl.col("wire_bytes").sum()).sort("rank")
    # all-reduce ring factor 2(2-1)/2 = 1: 9 x 1536 + 27 x 512 = 27648; the gather root
    # keeps its own logits, rank 1 sends 4 x 2048; broadcast (2-1)/2 x 16 x 4 steps = 32
    assert per_rank["wire_bytes"].to_list() == [27648 + 32, 27648 + 8192 + 32]


def test_pp2() -> None:
    got = calls(predict(TINY, 1, 2, WORK))
    assert got[(0, "prefill", "pp", "send")] == (2, 1536, 1)
    assert got[(0, "decode", "pp", "send")] == (6, 512, 1)
    assert got[(1, "prefill", "pp", "recv")] == (2, 1536, 0)
    assert got[(1, "decode", "pp", "recv")] == (6, 512, 0)
    # sampled ids (2 x int64) back to the first stage after every step
    assert got[(1, "prefill", "sample", "send")] == (1, 16, 0)
    assert got[(1, "decode", "sample", "send")] == (3, 16, 0)
    assert got[(0, "prefill", "sample", "recv")] == (1, 16, 1)
    assert got[(0, "decode", "sample", "recv")] == (3, 16, 1)
    assert len(got) == 8


def test_tp2_pp2() -> None:
    got = calls(predict(TINY, 2, 2, WORK))
    assert got[(0, "prefill", "embedding", "all_reduce")] == (1, 1536, None)
    assert got[(0, "prefill", "layer", "all_reduce")] == (4, 1536, None)  # 2 layers a stage
    assert got[(1, "decode", "pp", "send")] == (6, 256, 3)  # its half of each tensor
    assert got[(3, "prefill", "pp", "recv")] == (2, 768, 1)
    assert got[(3, "prefill", "pp", "all_gather")] == (2, 1536, None)
    assert got[(3, "decode", "pp", "all_gather")] == (6, 512, None)
    assert got[(3, "decode", "logits", "gather")] == (3, 2048, None)
    assert got[(2, "decode", "sample", "send")] == (3, 16, 0)
    assert got[(0, "decode", "sample", "recv")] == (3, 16, 2)
    assert got[(1, "decode", "sample", "broadcast")] == (3, 16, None)
    assert (3, "decode", "sample", "broadcast") not in got
    assert (3, "prefill", "embedding", "all_reduce") not in got
    assert (0, "prefill", "logits", "gather") not in got
    assert (3, "decode", "sample", "send") not in got


def test_lane_volume_equals_study_tp_and_pp_formulas() -> None:
    for tp, pp in ((2, 1), (4, 1), (1, 2), (1, 4)):
        rows = predict(TINY, tp, pp, replace(WORK, sample_feedback="none"))
        study = study_volume(TINY, tp, pp, prompt_len=3, gen_len=4, dtype="fp32", batch=2)
        assert volume(rows, tp, pp).lane_wire_bytes == pytest.approx(study.total)


def test_hybrid_differs_from_study_by_embedding_and_scope() -> None:
    rows = predict(TINY, 2, 2, replace(WORK, sample_feedback="none"))
    study = study_volume(TINY, 2, 2, prompt_len=3, gen_len=4, dtype="fp32", batch=2)
    stage1 = rows.filter(pl.col("rank") == 3)  # stage 1, TP rank 1
    stage0 = rows.filter(pl.col("rank") == 1)
    tokens_bytes = 12 * 64 * 4  # B (Sp + Sd - 1) h b
    # the study's V_ar is one stage's 2L/p layers: stage 1 has no embedding
    assert stage1.filter(pl.col("op") == "all_reduce")["wire_bytes"].sum() == study.all_reduce
    embedding = stage0.filter(pl.col("term") == "embedding")["wire_bytes"].sum()
    assert embedding == tokens_bytes * 1.0  # ring factor 2(t-1)/t = 1
    lane = volume(rows, 2, 2).lane_wire_bytes
    assert lane == pytest.approx(study.total + study.all_reduce + embedding)


def test_no_collectives_on_one_rank() -> None:
    rows = predict(TINY, 1, 1, WORK)
    assert rows.is_empty()
    assert volume(rows, 1, 1).total_wire_bytes == 0


def test_logits_of_every_token() -> None:
    got = calls(predict(TINY, 2, 1, replace(WORK, logits_tokens_per_seq=None)))
    assert got[(0, "prefill", "logits", "gather")] == (1, 6 * 256 * 4, None)
    assert got[(0, "decode", "logits", "gather")] == (3, 2 * 256 * 4, None)


@pytest.mark.parametrize(
    ("feedback", "prefill", "decode"),
    [("none", 0, 0), ("every_step", 1, 3)],
)
def test_sample_feedback(feedback: str, prefill: int, decode: int) -> None:
    rows = predict(TINY, 1, 2, replace(WORK, sample_feedback=feedback))  # type: ignore[arg-type]
    sample = rows.filter(pl.col("term") == "sample", pl.col("op") == "send")
    assert dict(sample.select("phase", "count").iter_rows()) == {
        k: v for k, v in (("prefill", prefill), ("decode", decode)) if v
    }


def test_single_step_has_no_decode() -> None:
    rows = predict(TINY, 2, 2, Workload(batch=1, prompt_len=5, gen_len=1, dtype="fp32"))
    assert set(rows["phase"]) == {"prefill"}
    sample = rows.filter(pl.col("term") == "sample")
    assert sorted(sample.select("rank", "op", "count").rows()) == [
        (0, "broadcast", 1),
        (0, "recv", 1),
        (1, "broadcast", 1),
        (2, "send", 1),
    ]


def test_uneven_and_explicit_stage_layers() -> None:
    llama3b = get_preset("llama-3.2-3b")
    rows = predict(llama3b, 1, 8, Workload(batch=1, prompt_len=1, gen_len=1))
    assert rows.filter(pl.col("op") == "all_reduce").is_empty()
    rows = predict(TINY, 2, 2, WORK, layers_per_stage=[1, 3])
    layer = rows.filter(pl.col("term") == "layer", pl.col("phase") == "prefill")
    assert dict(layer.select("rank", "count").iter_rows()) == {0: 2, 1: 2, 2: 6, 3: 6}
    with pytest.raises(TracekitError):
        predict(TINY, 2, 2, WORK, layers_per_stage=[1, 1])


def test_hidden_must_split_over_tp() -> None:
    with pytest.raises(TracekitError, match="does not split"):
        predict(TINY, 3, 1, WORK)


def test_by_op_sums_terms() -> None:
    table = by_op(predict(TINY, 2, 1, WORK))
    row = table.filter(pl.col("phase") == "decode", pl.col("op") == "all_reduce").row(0, named=True)
    assert row["count"] == 2 * 27  # both ranks
    assert row["msg_sizes"] == [512]
    assert row["total_bytes"] == 2 * 27 * 512
    per_rank = by_op(predict(TINY, 2, 1, WORK), per_rank=True)
    assert per_rank.filter(pl.col("rank") == 1, pl.col("op") == "gather")["count"].sum() == 4
