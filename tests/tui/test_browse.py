"""The analysis API the TUI calls (no Textual), on the sample database."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tracekit import analysis
from tracekit.analysis import browse
from tracekit.errors import InputError


def test_filter_parsing() -> None:
    flt = analysis.OpFilter.parse("op=all_reduce,all_gather rank=0,3 layer=2 bytes>=1M")
    assert flt.ops == ("all_reduce", "all_gather")
    assert flt.ranks == (0, 3) and flt.layers == (2,)
    assert flt.bytes_min == 1 << 20 and flt.bytes_max is None
    assert analysis.OpFilter.parse("bytes<64k").bytes_max == 64 * 1024 - 1
    assert analysis.OpFilter.parse("name~Ring").name == "Ring"
    assert analysis.OpFilter.parse("") == analysis.OpFilter()
    for bad in ("rank=x", "size=3", "bytes>=lots", "op>3"):
        with pytest.raises(InputError):
            analysis.OpFilter.parse(bad)


def test_runs_and_ranks(sample_con: duckdb.DuckDBPyConnection) -> None:
    runs = analysis.runs(sample_con)
    assert runs.columns[:4] == ["run_id", "world_size", "tp", "pp"]
    run = runs.rows[0][0]
    ranks = analysis.ranks(sample_con, run=run).dicts()
    assert ranks
    for r in ranks:
        assert r["idle_ns"] == max(
            r["span_ns"] - (r["comm_ns"] + r["compute_ns"] - r["overlap_ns"]), 0
        )


def test_collectives_filter_sort_page(sample_con: duckdb.DuckDBPyConnection) -> None:
    run = analysis.runs(sample_con).rows[0][0]
    total = sample_con.execute("SELECT count(*) FROM comm_ops WHERE run_id = ?", [run]).fetchall()[
        0
    ][0]
    everything = analysis.comm_ops(sample_con, run=run, limit=100_000)
    assert len(everything.rows) == total and not everything.more
    page = analysis.comm_ops(sample_con, run=run, limit=3, offset=3)
    assert page.rows == everything.rows[3:6] and page.more == (total > 6)
    longest = analysis.comm_ops(sample_con, run=run, sort="dur_ns", descending=True, limit=1)
    assert longest.dicts()[0]["dur_ns"] == max(r["dur_ns"] for r in everything.dicts())
    only = analysis.comm_ops(sample_con, run=run, where=analysis.OpFilter(ranks=(1,)))
    assert only.rows and {r["rank"] for r in only.dicts()} == {1}
    with pytest.raises(InputError):
        analysis.comm_ops(sample_con, run=run, sort="dur_ns; DROP TABLE runs")


def test_collectives_carry_the_enclosing_layer(sample_con: duckdb.DuckDBPyConnection) -> None:
    """Depends on the sample traces' `tk:layer=N` annotations (a tensor-parallel run has
    all-reduces inside layers; pipeline send/recv sit between them)."""
    runs = [r for (r,) in sample_con.execute("SELECT run_id FROM runs").fetchall()]
    layers = {r["layer"] for run in runs for r in analysis.comm_ops(sample_con, run=run).dicts()}
    assert layers - {None}


def test_missing_views_are_reported(db_without_views: Path) -> None:
    con = duckdb.connect(str(db_without_views), read_only=True)
    run = analysis.runs(con).rows[0][0]
    for dimension in ("layer", "stage", "phase"):
        with pytest.raises(analysis.MissingView) as missing:
            analysis.overlap_totals(con, run=run, by=dimension)
        assert missing.value.view == f"overlap_by_{dimension}"
    with pytest.raises(analysis.MissingView) as missing:
        analysis.instances_by_skew(con, run=run)
    assert missing.value.view == "_instance_figures"
    con.close()


def test_overlap_totals_sum_the_label_rows(sample_con: duckdb.DuckDBPyConnection) -> None:
    """The Overlap screen's totals (the overlap_totals_by_<label> views) are the run's
    overlap_by_<label> rows summed over ranks and lane groups, summed here in Python."""
    keys = ("comm_ns", "compute_ns", "overlap_ns", "exposed_comm_ns")
    checked = 0
    for run in analysis.runs(sample_con).frame["run_id"]:
        for label in ("layer", "stage", "phase"):
            expected: dict[object, dict[str, object]] = {}
            for row in analysis.overlap(sample_con, by=label, run=run).dicts():
                into = expected.setdefault(row[label], {"ranks": set(), **dict.fromkeys(keys, 0)})
                into["ranks"].add(row["rank"])  # type: ignore[attr-defined]
                for key in keys:
                    into[key] += row[key]  # type: ignore[operator]
            totals = analysis.overlap_totals(sample_con, run=run, by=label)
            assert totals.columns == [label, "ranks", *keys, "overlap_pct"]
            got = totals.dicts()
            labels = [r[label] for r in got]
            assert labels == sorted(expected, key=lambda v: (v is None, v))
            for row in got:
                want = expected[row[label]]
                assert row["ranks"] == len(want["ranks"])  # type: ignore[arg-type]
                assert all(row[key] == want[key] for key in keys)
                comm, overlap = want["comm_ns"], want["overlap_ns"]
                pct = round(100 * overlap / comm, 2) if comm else None  # type: ignore[operator]
                assert row["overlap_pct"] == pytest.approx(pct)
                checked += 1
    assert checked > 20


def test_a_missing_totals_view_is_named(sample_db: Path, tmp_path: Path) -> None:
    """A database made before the overlap_totals_by_<label> views (an older tracekit)."""
    db = tmp_path / "older.duckdb"
    shutil.copy(sample_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("DROP VIEW overlap_totals_by_phase")
    with duckdb.connect(str(db), read_only=True) as con:
        run = analysis.runs(con).rows[0][0]
        assert analysis.overlap_totals(con, run=run, by="layer").rows
        with pytest.raises(analysis.MissingView) as missing:
            analysis.overlap_totals(con, run=run, by="phase")
    assert missing.value.view == "overlap_totals_by_phase"


def test_timeline_buckets(sample_con: duckdb.DuckDBPyConnection) -> None:
    run = analysis.runs(sample_con).rows[0][0]
    start, end = analysis.rank_span(sample_con, run=run, rank=0)
    tl = analysis.lanes(sample_con, run=run, rank=0, start_ns=start, end_ns=end, buckets=50)
    assert tl.lanes and all(len(v) == 50 for v in tl.busy_ns.values())
    assert all(0.0 <= f <= 1.0 for k in tl.lanes for f in tl.busy(k))
    comm = [k for k in tl.lanes if k[1] == "comm"]
    busy_ns = sum(sum(tl.busy_ns[k]) for k in comm)
    assert busy_ns > 0
    lane, cls = comm[0]
    event = analysis.event_at(
        sample_con, run=run, rank=0, lane=lane, cls=cls, start_ns=start, end_ns=end
    ).dicts()[0]
    assert event and event["lane"] == lane and event["dur_ns"] > 0


def test_timeline_compute_is_overlap_by_rank_compute(sample_con: duckdb.DuckDBPyConnection) -> None:
    """The Timeline's lanes are the islands overlap_by_rank measures: over a rank's whole
    span they add up to its comm_ns and compute_ns, on every sample run and rank. (On
    tp2 rank 0 the old Timeline showed 0.17 ms of compute on gloo threads and 14.99 ms on
    the main thread, where overlap_by_rank counts 14.22 ms.)"""
    expected = sample_con.execute(
        "SELECT run_id, rank, lane, comm_ns, compute_ns FROM overlap_by_rank"
    ).fetchall()
    assert len(expected) >= 8
    for run, rank, lane, comm_ns, compute_ns in expected:
        start, end = analysis.rank_span(sample_con, run=run, rank=rank)
        tl = analysis.lanes(sample_con, run=run, rank=rank, start_ns=start, end_ns=end, buckets=97)
        assert {k[0] for k in tl.lanes} == {lane}
        assert sum(tl.busy_ns[(lane, "compute")]) == compute_ns, (run, rank)
        assert sum(tl.busy_ns[(lane, "comm")]) == comm_ns, (run, rank)


def test_run_sql_limit_plus_one(sample_con: duckdb.DuckDBPyConnection) -> None:
    assert analysis.run_sql(sample_con, "SELECT * FROM range(10)", limit=10).more is False
    result = analysis.run_sql(sample_con, "SELECT * FROM range(11)", limit=10)
    assert len(result.rows) == 10 and result.more
    with pytest.raises(InputError, match="SELEC"):  # store.run_query's one paragraph
        analysis.run_sql(sample_con, "SELEC 1")


@pytest.mark.parametrize("content", [None, b"", b"not a database"])
def test_unusable_database_files(tmp_path: Path, content: bytes | None) -> None:
    db = tmp_path / "x.duckdb"
    if content is not None:
        db.write_bytes(content)
    with pytest.raises(InputError, match="x.duckdb"):
        browse.open_database(db)


def test_database_without_runs(tmp_path: Path) -> None:
    from tracekit import store

    db = tmp_path / "empty.duckdb"
    con = store.connect(db)
    store.initialise(con)
    con.close()
    with pytest.raises(InputError, match="holds no runs"):
        browse.open_database(db)
    plain = tmp_path / "plain.duckdb"
    duckdb.connect(str(plain)).execute("CREATE TABLE t (a INTEGER)").close()
    with pytest.raises(InputError, match="not a tracekit database"):
        browse.open_database(plain)


def test_headless_modules_do_not_import_textual() -> None:
    code = (
        "import sys\n"
        "import tracekit.analysis.browse, tracekit.cli, tracekit.store, tracekit.ingest.loader\n"
        "assert 'textual' not in sys.modules, 'textual imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_a_window_shows_the_overlap_islands_clipped(sample_con: duckdb.DuckDBPyConnection) -> None:
    """A zoomed window holds exactly the parts of overlap_by_rank's islands inside it."""
    start, end = analysis.rank_span(sample_con, run="tp2", rank=0)
    t0, t1 = start + (end - start) // 3, start + (end - start) // 2
    tl = analysis.lanes(sample_con, run="tp2", rank=0, start_ns=t0, end_ns=t1, buckets=37)
    expected = sample_con.execute(
        "SELECT i.cls, sum(least(i.e_ns, $t1) - greatest(i.s_ns, $t0)) "
        "FROM _lane_islands i JOIN traces t USING (trace_id) "
        "WHERE t.run_id = 'tp2' AND t.rank = 0 AND i.e_ns > $t0 AND i.s_ns < $t1 GROUP BY 1",
        {"t0": t0, "t1": t1},
    ).fetchall()
    assert len(expected) == 2
    assert {cls: sum(tl.busy_ns[("cpu", cls)]) for cls, _ in expected} == dict(expected)


def test_instances_by_skew_puts_the_chosen_instance_first(
    sample_con: duckdb.DuckDBPyConnection,
) -> None:
    """With ``first``, that instance leads and the rest keep the worst-skew order; one
    query (it was two)."""
    run = "tp2pp2"
    by_skew = analysis.instances_by_skew(sample_con, run=run).rows
    assert len(by_skew) > 3
    for chosen in (by_skew[0], by_skew[len(by_skew) // 2], by_skew[-1]):
        op, pg, instance = chosen[:3]
        got = analysis.instances_by_skew(sample_con, run=run, first=(pg, op, instance), limit=5)
        assert got.rows == [chosen, *[r for r in by_skew if r != chosen][:4]]
        assert got.more
    missing = analysis.instances_by_skew(sample_con, run=run, first=("nope", "x", 0))
    assert missing.rows == by_skew
