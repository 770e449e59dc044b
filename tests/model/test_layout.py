import pytest

from tracekit.errors import TracekitError
from tracekit.model.layout import (
    Layout,
    Workload,
    bus_factor,
    dtype_bytes,
    stage_layers,
    wire_factor,
)


def test_dtype_bytes() -> None:
    assert [dtype_bytes(d) for d in ("fp32", "bf16", "torch.float16", "fp8")] == [4, 2, 2, 1]
    with pytest.raises(TracekitError):
        dtype_bytes("int3")


def test_layout_coordinates() -> None:
    layout = Layout(tp=2, pp=3)
    assert layout.world_size == 6
    assert [layout.coords(r) for r in range(6)] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert layout.rank(2, 1) == 5


def test_workload_tokens() -> None:
    work = Workload(batch=4, prompt_len=128, gen_len=512)
    assert work.decode_steps == 511
    assert work.prefill_tokens == 512
    assert work.decode_tokens == 4
    assert work.total_tokens == 4 * (128 + 512 - 1)
    assert work.logits_tokens(512) == 4
    assert Workload(4, 128, 512, logits_tokens_per_seq=None).logits_tokens(512) == 512
    with pytest.raises(TracekitError):
        Workload(batch=0, prompt_len=1, gen_len=1)
    with pytest.raises(TracekitError, match="unknown sample feedback 'often'"):
        Workload(1, 1, 1, sample_feedback="often")  # type: ignore[arg-type]


def test_stage_layers_follows_vllm() -> None:
    assert stage_layers(32, 4) == [8, 8, 8, 8]
    assert stage_layers(28, 8) == [3, 3, 3, 4, 4, 4, 4, 3]
    assert stage_layers(4, 3) == [1, 2, 1]
    with pytest.raises(TracekitError):
        stage_layers(4, 8)


def test_ring_factors() -> None:
    assert wire_factor("all_reduce", 4) == 1.5
    assert wire_factor("all_gather", 4) == 0.75
    assert wire_factor("gather", 4) == 1.0
    assert wire_factor("gather", 4, is_root=True) == 0.0
    assert (wire_factor("send", 1), wire_factor("recv", 1)) == (1.0, 0.0)
    assert bus_factor("gather", 4) == 3.0
    assert bus_factor("recv", 1) == 1.0


def test_dtype_sizes_and_layout_are_the_stores(tmp_path) -> None:
    """One definition each: the model's dtype sizes are the `dtype_sizes` rule table, and its
    rank layout is the `rank_coords` / `rank_at` macros the views use."""
    import duckdb

    from tracekit import store
    from tracekit.model.layout import DTYPE_BYTES

    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    store.initialise(con)
    table = dict(con.execute("SELECT lower(dtype), bytes FROM dtype_sizes").fetchall())
    assert DTYPE_BYTES == table
    assert {"bf16", "fp32", "fp8", "float8"} <= set(table)
    layout = Layout(tp=4, pp=3)
    for rank in range(12):
        place = con.execute("SELECT rank_coords(?, 4)", [rank]).fetchall()[0][0]
        assert layout.coords(rank) == (place["pp_rank"], place["tp_rank"]) == divmod(rank, 4)
        assert layout.rank(*layout.coords(rank)) == rank
    con.close()
