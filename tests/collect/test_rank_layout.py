"""The worker places ranks in the T×P grid exactly as the store's views read them."""

from __future__ import annotations

import sys

import duckdb
import pytest

from tracekit import store
from tracekit.resources import collectors_dir

pytest.importorskip("torch")


def test_the_worker_places_ranks_as_the_rank_coords_macro(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.syspath_prepend(str(collectors_dir()))
    import parallel

    try:
        con = duckdb.connect(str(tmp_path / "s.duckdb"))
        store.initialise(con)
        for tp, pp in ((1, 4), (2, 2), (4, 1), (3, 2)):
            for rank in range(tp * pp):
                here = parallel.RankLayout(rank=rank, world_size=tp * pp, tp=tp, pp=pp)
                place = con.execute("SELECT rank_coords(?, ?)", [rank, tp]).fetchone()[0]
                assert (here.pp_rank, here.tp_rank) == (place["pp_rank"], place["tp_rank"])
                assert here.global_rank(here.pp_rank, here.tp_rank) == rank
                assert here.is_first_stage == (place["pp_rank"] == 0)
                assert here.is_last_stage == (place["pp_rank"] == pp - 1)
        con.close()
    finally:
        sys.modules.pop("parallel", None)
