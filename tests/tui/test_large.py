"""The collectives screen on 120 k communication ops: pages come from SQL, not memory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.tui.tui_helpers import make_app, settle, table_cells
from tracekit import analysis, store

N_OPS = 120_000


@pytest.fixture(scope="module")
def large_db(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("tui-large") / "large.duckdb"
    shutil.copy(sample_db, db)
    con = store.connect(db)
    con.execute(
        """
        INSERT INTO events (trace_id, event_id, kind, name, ts_ns, dur_ns, pid, tid, dtype,
                            input_dims)
        SELECT t.trace_id, 10_000_000 + i, 'user_annotation', 'gloo:all_reduce',
               i * 1000, 100 + (i * 7919) % 5000, 1, 1, 'float', '[[1024]]'
        FROM range(?) r(i), (SELECT min(trace_id) AS trace_id FROM traces) t
        """,
        [N_OPS],
    )
    con.close()
    return db


@pytest.mark.slow
def test_a_page_of_120k_ops_sorted_by_duration(large_db: Path) -> None:
    con = store.connect(large_db, read_only=True)
    run = analysis.runs(con).rows[0][0]
    page = analysis.comm_ops(con, run=run, sort="dur_ns", descending=True, limit=200)
    con.close()
    assert len(page.rows) == 200 and page.more
    assert page.dicts()[0]["dur_ns"] >= 5000 - 1 + 100 - 1


@pytest.mark.slow
async def test_collectives_screen_pages_120k_ops(large_db: Path) -> None:
    app = make_app(large_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert len(table_cells(app, "#collectives")) == 200
        assert app.screen.query_one("#collectives").row_count == 200
        await pilot.press("right_square_bracket", "right_square_bracket")
        await settle(pilot)
        assert app.screen.row_offset == 400
        assert len(table_cells(app, "#collectives")) == 200
