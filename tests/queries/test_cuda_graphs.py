"""CUDA graph replays (issue 14 item 4) on synthetic TP2xPP2 runs shaped like the real traces
(tests/fixtures/gpu_run.py: the decode steps' layers replay one graph per step, as vLLM's
piecewise graphs), as Kineto traces and as nsys exports with --cuda-graph-trace=node, each
beside the same run launched kernel by kernel; and the graph replays of the real
negative_queue_length_values_check trace."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.gpu_run import build, plan, write_kineto, write_nsys
from tracekit.ingest.loader import import_paths

TP, PP = 2, 2
# kernel -> its labels, keyed by rank, start relative to the run's first kernel and name
LABELS = (
    "SELECT e.ts_ns - min(e.ts_ns) OVER (PARTITION BY t.run_id) AS t, t.rank, e.name, "
    "l.step, l.phase, l.stage, l.layer, l.block "
    "FROM events e JOIN traces t USING (trace_id) JOIN event_labels l USING (trace_id, event_id) "
    "WHERE e.kind = 'kernel' AND t.run_id = ? ORDER BY ALL"
)
COMM = (
    "SELECT c.ts_ns - min(e.ts_ns) OVER (PARTITION BY c.run_id) AS t, c.rank, c.op, c.msg_bytes "
    "FROM comm_ops c JOIN events e USING (trace_id, event_id) WHERE c.run_id = ? ORDER BY ALL"
)


def _graphed() -> list[list]:
    """Per rank, the kernels the builder puts in graph replays."""
    return [[k for _, ks in plan(r, graphs=True).replays for k in ks] for r in build(TP, PP)]


@pytest.fixture(scope="module", params=["kineto", "nsys"])
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp(request.param)
    write = write_kineto if request.param == "kineto" else write_nsys
    db = root / "g.duckdb"
    import_paths(db, [write(root / "eager", TP, PP)], workers=1)
    summary = import_paths(db, [write(root / "graphs", TP, PP, graphs=True)], workers=1)
    con = duckdb.connect(str(db), read_only=True)
    yield request.param, con, summary
    con.close()


def test_graph_replays_are_detected(runs) -> None:
    fmt, con, summary = runs
    graphed = _graphed()
    got = con.execute(
        "SELECT rank, count(*), min(replay_events), max(replay_events), "
        "list(DISTINCT launch_name), bool_and(attributed), bool_or(attributed), "
        "list(DISTINCT graph_id), count(DISTINCT graph_node_id) "
        "FROM graph_kernels WHERE run_id = 'graphs' GROUP BY rank ORDER BY rank"
    ).fetchall()
    per_replay = [len(plan(r, graphs=True).replays[0][1]) for r in build(TP, PP)]
    attributed = fmt == "nsys"  # only nsys records the nodes' creation at capture
    assert got == [
        (
            rank,
            len(kernels),
            per_replay[rank],
            per_replay[rank],
            ["cudaGraphLaunch"],
            attributed,
            attributed,
            [2],
            per_replay[rank],
        )
        for rank, kernels in enumerate(graphed)
    ]
    assert con.execute("SELECT count(*) FROM graph_kernels WHERE run_id = 'eager'").fetchall() == [
        (0,)
    ]
    unattributed = [(w, n) for w, n in summary.warnings if "CUDA graph" in w]
    assert unattributed == ([] if attributed else [(unattributed[0][0], sum(map(len, graphed)))])


def test_graph_kernels_keep_their_labels_where_the_capture_is_traced(runs) -> None:
    """nsys: every kernel has the labels it has when launched alone (layer and block from the
    ranges around its node's creation at capture, step and phase from the replay). Kineto
    records no node creation: a graph kernel keeps its replay's step and phase, and its layer
    and block are unknown rather than guessed."""
    fmt, con, _ = runs
    eager = con.execute(LABELS, ["eager"]).fetchall()
    graphs = con.execute(LABELS, ["graphs"]).fetchall()
    assert len(graphs) == len(eager)
    if fmt == "nsys":
        assert graphs == eager
        return
    ranks = build(TP, PP)
    first = min(k.start for r in ranks for k in r.kernels)
    starts = {
        (r.rank, k.start - first) for r, ks in zip(ranks, _graphed(), strict=True) for k in ks
    }
    assert sum((row[1], row[0]) in starts for row in graphs) == sum(map(len, _graphed()))
    want = [(*row[:6], None, None) if (row[1], row[0]) in starts else row for row in eager]
    assert graphs == want


def test_graph_collectives_take_op_and_size_from_the_capture(runs) -> None:
    """nsys: a graph's all-reduce kernels get their message size from the ncclAllReduce range
    (NVTX payload) around their node's creation. Kineto: no record_param_comms, no size."""
    fmt, con, _ = runs
    eager = con.execute(COMM, ["eager"]).fetchall()
    graphs = con.execute(COMM, ["graphs"]).fetchall()
    in_graphs = con.execute(
        "SELECT count(*), count(msg_bytes) FROM comm_ops WHERE run_id = 'graphs' AND graph"
    ).fetchall()
    n = sum(k.comm is not None for ks in _graphed() for k in ks)
    assert n > 0
    if fmt == "nsys":
        assert graphs == eager
        assert in_graphs == [(n, n)]
    else:
        assert len(graphs) == len(eager)
        assert in_graphs == [(n, 0)]


def test_graph_collectives_complete_where_the_layout_is_known(runs) -> None:
    _, con, _ = runs
    rows = con.execute(
        "SELECT op, count(*), bool_and(complete), min(group_size) FROM collective_instances "
        "WHERE run_id = 'graphs' AND op <> 'send_recv' GROUP BY op ORDER BY op"
    ).fetchall()
    eager = con.execute(
        "SELECT op, count(*), bool_and(complete), min(group_size) FROM collective_instances "
        "WHERE run_id = 'eager' AND op <> 'send_recv' GROUP BY op ORDER BY op"
    ).fetchall()
    assert rows == eager


def test_a_graph_collective_of_unknown_group_is_not_matched(tmp_path: Path) -> None:
    """Without a manifest (layout unknown) a graph's all-reduce has no process group in the
    trace: it is in no collective instance, where it used to join the 'world' group and
    match the all-reduces of both pipeline stages' TP groups as one collective of 4."""
    folder = write_kineto(tmp_path / "graphs", TP, PP, graphs=True)
    (folder / "manifest.json").unlink()
    db = tmp_path / "g.duckdb"
    import_paths(db, [folder], workers=1)
    con = duckdb.connect(str(db), read_only=True)
    n = sum(k.comm is not None for ks in _graphed() for k in ks)
    assert con.execute(
        "SELECT count(*) FROM collective_instances WHERE pg = 'world' OR group_size > 2"
    ).fetchall() == [(0,)]
    assert con.execute(
        "SELECT count(*), count(pg), count(group_size) FROM _comm_groups WHERE graph"
    ).fetchall() == [(n, 0, 0)]
    assert con.execute(
        "SELECT count(*) FROM collective_participants p JOIN comm_ops c USING (trace_id, event_id) "
        "WHERE c.graph"
    ).fetchall() == [(0,)]
    # the eager collectives, named by record_param_comms, are matched as before
    assert con.execute(
        "SELECT bool_and(complete), max(group_size) FROM collective_instances "
        "WHERE op NOT IN ('send', 'recv')"
    ).fetchall() == [(True, 2)]


def test_real_graph_replays(shared_traces: Path, tmp_path: Path) -> None:
    """negative_queue_length_values_check replays CUDA graphs (torch.compile): every kernel,
    memcpy and memset sharing a cudaGraphLaunch's correlation id is graph work, not
    attributed (Kineto records no node creation); counted independently from the JSON."""
    path = shared_traces / "kineto" / "negative_queue_length_values_check" / "rank0.json.gz"
    events = json.loads(gzip.decompress(path.read_bytes()))["traceEvents"]
    launches = {e["args"]["correlation"] for e in events if e.get("name") == "cudaGraphLaunch"}
    device = [
        e
        for e in events
        if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")
        and e.get("args", {}).get("correlation") in launches
    ]
    db = tmp_path / "t.duckdb"
    summary = import_paths(db, [path], workers=1)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute(
        "SELECT count(*), count(*) FILTER (WHERE attributed), count(DISTINCT launch_event_id) "
        "FROM graph_kernels"
    ).fetchall() == [(len(device), 0, len(launches))]
    assert [n for w, n in summary.warnings if "CUDA graph" in w] == [len(device)]
