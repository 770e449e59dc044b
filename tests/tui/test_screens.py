"""Every screen, driven with Pilot over the database built from sample_traces/."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from tests.tui.tui_helpers import goto, make_app, settle, table_cells
from tracekit import analysis
from tracekit.tui import format as fmt
from tracekit.tui.capture import screen_text
from tracekit.tui.screens import collectives as collectives_screen


def first_run(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT min(run_id) FROM runs").fetchall()[0][0]


async def test_runs_screen_lists_every_run(sample_db: Path, sample_con) -> None:
    expected = [r[0] for r in sample_con.execute("SELECT run_id FROM runs ORDER BY 1").fetchall()]
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.current_mode == "runs"
        rows = table_cells(app, "#runs")
        assert [r[0] for r in rows] == expected
        assert f"rows {len(expected)} of {len(expected)}" in screen_text(app)
        assert app.run_id == expected[0]


async def test_ranks_screen_shows_overlap_per_rank(sample_db: Path, sample_con) -> None:
    run = first_run(sample_con)
    expected = sample_con.execute(
        "SELECT rank, lane, comm_ns, exposed_comm_ns FROM overlap_by_rank WHERE run_id = ? "
        "ORDER BY rank, lane",
        [run],
    ).fetchall()
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "enter")
        assert app.current_mode == "ranks"
        rows = table_cells(app, "#ranks")
        assert [(int(r[0]), r[1], r[2], r[4]) for r in rows] == [
            (rank, lane, fmt.ns(comm), fmt.ns(exposed)) for rank, lane, comm, exposed in expected
        ]
        assert all(len(r[-1]) == 12 for r in rows)  # the span bar
        await pilot.press("enter")  # jump to this rank's collectives
        await settle(pilot)
        assert app.current_mode == "collectives"
        assert {r[0] for r in table_cells(app, "#collectives")} == {str(expected[0][0])}


async def test_collectives_filter_sort_and_errors(sample_db: Path, sample_con) -> None:
    """On the first run with ops inside a layer (a tensor-parallel run)."""
    runs = [r for (r,) in sample_con.execute("SELECT run_id FROM runs ORDER BY 1").fetchall()]
    layered = {run: analysis.comm_ops(sample_con, run=run, limit=10_000).dicts() for run in runs}
    run = next(run for run in runs if any(r["layer"] is not None for r in layered[run]))
    ops = layered[run]
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press(*["down"] * runs.index(run), "enter")
        await goto(pilot, "3")
        assert app.run_id == run
        rows = table_cells(app, "#collectives")
        assert len(rows) == min(len(ops), collectives_screen.PAGE)
        assert {r[1] for r in rows} <= {o["op"] for o in ops}
        # sort by duration: move the cursor to dur_ns and press s (longest first)
        await pilot.press("right", "right", "right", "right", "s")
        await settle(pilot)
        assert table_cells(app, "#collectives")[0][4] == fmt.ns(max(o["dur_ns"] for o in ops))
        # filter by rank and layer (a pair the run has)
        rank, layer = next((o["rank"], o["layer"]) for o in ops if o["layer"] is not None)
        await pilot.press("slash", *f"rank={rank} layer={layer}", "enter")
        await settle(pilot)
        rows = table_cells(app, "#collectives")
        expected = [o for o in ops if (o["rank"], o["layer"]) == (rank, layer)]
        assert len(rows) == min(len(expected), collectives_screen.PAGE)
        assert {(r[0], r[2]) for r in rows} == {(str(rank), str(layer))}
        # a bad filter is shown, not raised
        await pilot.press("slash", "ctrl+u", *"size=3", "enter")
        await settle(pilot)
        assert "filter 'size=3'" in screen_text(app)


async def test_collectives_pages_in_sql(sample_db: Path, sample_con, monkeypatch) -> None:
    monkeypatch.setattr(collectives_screen, "PAGE", 5)
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "3")
        assert len(table_cells(app, "#collectives")) == 5
        assert "rows 5 of >5" in screen_text(app)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert "rows 6–10 of" in screen_text(app)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert "rows 5 of >5" in screen_text(app)


async def test_overlap_screen_without_the_views(db_without_views: Path) -> None:
    app = make_app(db_without_views)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "4")
        assert "view overlap_by_layer not available in this database" in screen_text(app)


async def test_overlap_screen_bars(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db), read_only=True)
    run = first_run(con)
    layers = con.execute(
        "SELECT layer, sum(comm_ns) FROM overlap_by_layer WHERE run_id = ? GROUP BY 1 "
        "ORDER BY 1 NULLS LAST",
        [run],
    ).fetchall()
    stages = con.execute(
        "SELECT DISTINCT stage FROM overlap_by_stage WHERE run_id = ? ORDER BY 1 NULLS LAST",
        [run],
    ).fetchall()
    con.close()
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "4")
        rows = table_cells(app, "#overlap")
        assert [(r[0], r[1]) for r in rows] == [
            ("NULL" if la is None else str(la), fmt.ns(c)) for la, c in layers
        ]
        assert any("█" in r[-1] for r in rows)
        await pilot.press("d")  # by stage
        await settle(pilot)
        assert [r[0] for r in table_cells(app, "#overlap")] == [
            "NULL" if s is None else str(s) for (s,) in stages
        ]
        await pilot.press("d")  # by phase
        await settle(pilot)
        assert {"prefill", "decode"} <= {r[0] for r in table_cells(app, "#overlap")}


async def test_instances_screen_shows_participants(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db), read_only=True)
    run = first_run(con)
    worst = con.execute(
        "SELECT op, instance, ranks_seen FROM collective_instances WHERE run_id = ? "
        "ORDER BY skew_ns DESC NULLS LAST, pg, op, instance LIMIT 1",
        [run],
    ).fetchone()
    con.close()
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "5")
        rows = table_cells(app, "#instances")
        assert (rows[0][0], rows[0][2]) == (worst[0], str(worst[1]))
        members = table_cells(app, "#participants")
        assert len(members) == worst[2]
        assert sum(1 for m in members if m[3] == "0 ns") >= 1  # the last to arrive waits 0


async def test_timeline_zoom_pan_and_select(sample_db: Path, sample_con) -> None:
    run = first_run(sample_con)
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "6")
        view = app.screen.query_one("#timeline")
        data = view.data
        assert data is not None and data.buckets == view.buckets
        assert {cls for _, cls in data.lanes} == {"compute", "comm"}
        span = data.end_ns - data.start_ns
        first, last = sample_con.execute(
            "SELECT min(ts_ns), max(ts_ns + dur_ns) FROM events JOIN traces USING (trace_id) "
            "WHERE run_id = ? AND rank = 0",
            [run],
        ).fetchone()
        assert (data.start_ns, data.end_ns) == (first, last)
        await pilot.press("plus")
        await settle(pilot)
        assert view.data.end_ns - view.data.start_ns < span * 0.6
        start = view.data.start_ns
        await pilot.press("l")
        await settle(pilot)
        assert view.data.start_ns > start
        await pilot.press("r")
        await settle(pilot)
        busiest = max(range(data.buckets), key=lambda b: view.data.busy(view.data.lanes[0])[b])
        view.cursor, view.lane_index = busiest, 0
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert "name" in text and view.data.lanes[0][0] in text
        assert re.search(r"dur +[\d.]+ (ns|µs|ms|s)\b", text)  # the unit is on the value


async def test_sql_console_runs_queries_and_shows_errors(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "7")
        editor = app.screen.query_one("#editor")
        editor.load_text("SELECT 42 AS answer,\n       'x' AS label")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert table_cells(app, "#results") == [["42", "x"]]
        editor.load_text("SELECT * FROM no_such_table")
        await pilot.press("f5")
        await settle(pilot)
        text = screen_text(app)
        assert "no_such_table" in text and "Catalog Error" in text
        await pilot.press("ctrl+up", "ctrl+up")
        assert editor.text.startswith("SELECT 42")
        editor.load_text("SELECT * FROM range(5000)")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "rows 1,000 of >1,000" in screen_text(app)


async def test_sql_console_cancels_a_long_query(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        app.screen.query_one("#editor").load_text("SELECT sum(i) FROM range(100000000000) t(i)")
        await pilot.press("ctrl+r")
        started = False
        for _ in range(200):  # interrupt until the worker has started and stopped
            await pilot.pause(0.05)
            started = started or bool(app.screen.open_cursors)
            await pilot.press("ctrl+x")
            if started and not app.screen.open_cursors:
                break
        await settle(pilot)
        assert "INTERRUPT" in screen_text(app).upper()


async def test_sql_console_is_read_only(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        app.screen.query_one("#editor").load_text("DELETE FROM runs")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "read-only" in screen_text(app)


async def test_help_lists_bindings(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "Everywhere" in text and "Zoom+" in text and "Rank+" in text
        await pilot.press("escape")
        await pilot.pause()
        assert "Everywhere" not in screen_text(app)


async def test_every_screen_fits_80x24(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        for key in "1234567":
            await pilot.press(key)
            await settle(pilot)
            lines = screen_text(app).splitlines()
            assert len(lines) == 24
            assert lines[0].startswith(" 1 Runs  2 Ranks")
            assert "Help" in lines[-1] or "^r Run" in lines[-1]


async def test_mouse_switches_screens(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.click("#nav", offset=(70, 0))  # " 7 SQL "
        await settle(pilot)
        assert app.current_mode == "sql"


async def test_jumps_from_collectives_to_timeline_and_instance(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "3")
        op = app.screen.page.dicts()[2]
        await pilot.press("down", "down", "t")
        await settle(pilot)
        assert app.current_mode == "timeline"
        view = app.screen.query_one("#timeline")
        assert app.screen.rank == op["rank"]
        assert view.data.start_ns < op["ts_ns"] < op["ts_ns"] + op["dur_ns"] < view.data.end_ns
        await pilot.press("3")
        await goto(pilot, "i")
        assert app.current_mode == "instances"
        con = app.con.cursor()  # a second connection would need the app's configuration
        wanted = analysis.instance_of(
            con, run=app.run_id, trace_id=op["trace_id"], event_id=op["event_id"]
        )
        con.close()
        row = app.screen.listing.dicts()[app.screen.query_one("#instances").cursor_row]
        assert wanted and (row["pg"], row["op"], row["instance"]) == wanted
        assert str(op["rank"]) in [m[0] for m in table_cells(app, "#participants")]


async def test_ranks_t_opens_that_ranks_timeline(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "2")
        await pilot.press("down", "t")
        await settle(pilot)
        assert app.current_mode == "timeline" and app.screen.rank == 1
        assert "rank 1" in screen_text(app)


async def test_clicking_a_timeline_cell_shows_its_event(sample_db: Path) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "6")
        view = app.screen.query_one("#timeline")
        lane = next(i for i, key in enumerate(view.data.lanes) if key[1] == "comm")
        busy = view.data.busy(view.data.lanes[lane])
        column = max(range(len(busy)), key=busy.__getitem__)
        await pilot.click("#timeline", offset=(16 + column, 1 + lane))
        await settle(pilot)
        assert view.cursor == column and view.lane_index == lane
        text = screen_text(app)
        assert re.search(r"dur +[\d.]+ (ns|µs|ms|s)\b", text)
        assert re.search(rf"lane +{view.data.lanes[lane][0]}\b", text)


async def test_headers_carry_no_unit_the_cells_do_not_show(sample_db: Path) -> None:
    """Cells show each value with its own unit (12.3 µs, 64 KiB, 1.5%), so headers drop
    the column's unit suffix: no `dur_ns` over a value in ms."""
    app = make_app(sample_db)
    async with app.run_test(size=(160, 30)) as pilot:
        await goto(pilot, "3")
        table = app.screen.query_one("#collectives")
        headers = [str(column.label) for column in table.columns.values()]
        assert headers[3:6] == ["msg", "dur", "ts"]
        assert not [h for h in headers if h.endswith(("_ns", "_bytes", "_pct"))]
        row = table_cells(app, "#collectives")[0]
        assert re.fullmatch(r"[\d.]+ (ns|µs|ms|s)", row[4]) and row[5].endswith(" ms")
