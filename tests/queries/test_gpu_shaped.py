"""Pipeline pairing and ops on synthetic GPU-shaped runs (tests/fixtures/gpu_run.py): TP2,
PP2 and TP2xPP2, as Kineto traces and as nsys exports (issue 14 item 1)."""

from __future__ import annotations

import duckdb
import pytest

from tests.fixtures.gpu_run import STEP_NS, build, write_kineto, write_nsys
from tracekit.ingest.loader import import_paths

LAYOUTS = [(2, 1), (1, 2), (2, 2)]
STEPS = 3


@pytest.fixture(scope="module", params=["kineto", "nsys"])
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp(request.param)
    write = write_kineto if request.param == "kineto" else write_nsys
    db = root / "gpu.duckdb"
    for tp, pp in LAYOUTS:
        import_paths(db, [write(root / f"tp{tp}pp{pp}", tp, pp)], workers=1)
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_every_pipeline_transfer_is_paired_with_a_bubble(runs: duckdb.DuckDBPyConnection) -> None:
    rows = runs.execute(
        "SELECT run_id, pg, count(*), min(ranks_seen), bool_and(complete), "
        "count(*) FILTER (WHERE bubble_ns > 0), list(DISTINCT block ORDER BY block) "
        "FROM collective_instances WHERE op = 'send_recv' GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    # per step: two pp_send transfers per TP rank of a non-last stage, one sampled-token
    # hand-back from the last stage's TP rank 0 to the first stage's
    assert rows == [
        ("tp1pp2", "p2p:0->1", 2 * STEPS, 2, True, 2 * STEPS, ["pp_send"]),
        ("tp1pp2", "p2p:1->0", STEPS, 2, True, STEPS, ["sample"]),
        ("tp2pp2", "p2p:0->2", 2 * STEPS, 2, True, 2 * STEPS, ["pp_send"]),
        ("tp2pp2", "p2p:1->3", 2 * STEPS, 2, True, 2 * STEPS, ["pp_send"]),
        ("tp2pp2", "p2p:2->0", STEPS, 2, True, STEPS, ["sample"]),
    ]


def test_each_receive_pairs_with_its_send(runs: duckdb.DuckDBPyConnection) -> None:
    """Both ends of every pair: one send on the source, one recv on the destination."""
    bad = runs.execute(
        "SELECT run_id, pg, instance, list(rank_op ORDER BY rank_op), list(rank ORDER BY rank_op) "
        "FROM collective_participants WHERE op = 'send_recv' GROUP BY ALL "
        "HAVING list(rank_op ORDER BY rank_op) <> ['recv', 'send'] "
        "OR list(rank ORDER BY rank_op) <> [split_part(pg[5:], '->', 2)::INT, "
        "split_part(pg[5:], '->', 1)::INT]"
    ).fetchall()
    assert bad == []


def test_tensor_parallel_collectives_complete(runs: duckdb.DuckDBPyConnection) -> None:
    rows = runs.execute(
        "SELECT run_id, op, count(*), bool_and(complete), min(group_size) "
        "FROM collective_instances WHERE op <> 'send_recv' GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    # per step and TP group: the embedding's all-reduce (first stage), two per layer (two
    # layers per stage), the logits gather (last stage), the token broadcast (first stage)
    assert rows == [
        ("tp2pp1", "all_reduce", STEPS * (1 + 2 * 2), True, 2),
        ("tp2pp1", "broadcast", STEPS, True, 2),
        ("tp2pp1", "gather", STEPS, True, 2),
        ("tp2pp2", "all_gather", 2 * STEPS, True, 2),
        ("tp2pp2", "all_reduce", STEPS * (1 + 2 * 2) + STEPS * 2 * 2, True, 2),
        ("tp2pp2", "broadcast", STEPS, True, 2),
        ("tp2pp2", "gather", STEPS, True, 2),
    ]


def test_no_generic_send_recv_left(runs: duckdb.DuckDBPyConnection) -> None:
    """Every SendRecv kernel has a direction or a collective: from the trace's args (Kineto),
    from its tk:block (nsys, where the launch sits in ncclGroupEnd)."""
    assert runs.execute("SELECT count(*) FROM _comm_groups WHERE op = 'send_recv'").fetchall() == [
        (0,)
    ]


def test_steps_are_timed_on_the_device(runs: duckdb.DuckDBPyConnection) -> None:
    """A step ends when its last kernel ends, not when the CPU has enqueued it (item 3): the
    expected spans come from the builder's kernels, on the run timeline of each format."""
    for tp, pp in LAYOUTS:
        ranks = build(tp, pp)
        offset = runs.execute(
            "SELECT min(ts_ns) FROM events JOIN traces USING (trace_id) "
            "WHERE run_id = ? AND kind = 'kernel'",
            [f"tp{tp}pp{pp}"],
        ).fetchone()[0] - min(k.start for r in ranks for k in r.kernels)
        want = []
        for step in range(STEPS):
            lo, hi = step * STEP_NS, (step + 1) * STEP_NS
            mine = [[k for k in r.kernels if lo <= k.launch < hi] for r in ranks]
            first = max(
                min(k.start for k in ks) for r, ks in zip(ranks, mine, strict=True) if r.stage == 0
            )
            end = max(k.end for ks in mine for k in ks)
            want.append((step, first + offset, end + offset))
        got = runs.execute(
            "SELECT step, ts_ns, end_ns FROM step_spans WHERE run_id = ? ORDER BY step",
            [f"tp{tp}pp{pp}"],
        ).fetchall()
        assert got == want, (tp, pp)
        e2e = runs.execute(
            "SELECT e2e_ns FROM latency_by_run WHERE run_id = ?", [f"tp{tp}pp{pp}"]
        ).fetchone()
        assert e2e == (want[-1][2] - want[0][1],)


def test_nccl_groups_give_the_direction_without_blocks(tmp_path) -> None:
    """nsys without the tk:block ranges around the transfers: a SendRecv kernel launched in
    ncclGroupEnd takes its direction from its group's ncclSend/ncclRecv calls, and its
    message size from the call's NVTX payload (a group of one call), so every pipeline
    transfer still pairs (issue 14 item 1)."""
    db = tmp_path / "g.duckdb"
    for tp, pp in [(1, 2), (2, 2)]:
        folder = write_nsys(tmp_path / f"tp{tp}pp{pp}", tp, pp, p2p_blocks=False)
        import_paths(db, [folder], workers=1)
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT run_id, pg, count(*), min(ranks_seen), bool_and(complete), "
        "count(*) FILTER (WHERE bubble_ns > 0), list(DISTINCT msg_bytes) "
        "FROM collective_instances WHERE op = 'send_recv' GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    size = [4096 * 2]  # bf16 elements of the builder's messages
    assert rows == [
        ("tp1pp2", "p2p:0->1", 2 * STEPS, 2, True, 2 * STEPS, size),
        ("tp1pp2", "p2p:1->0", STEPS, 2, True, STEPS, size),
        ("tp2pp2", "p2p:0->2", 2 * STEPS, 2, True, 2 * STEPS, size),
        ("tp2pp2", "p2p:1->3", 2 * STEPS, 2, True, 2 * STEPS, size),
        ("tp2pp2", "p2p:2->0", STEPS, 2, True, STEPS, size),
    ]
    assert con.execute("SELECT count(*) FROM _comm_groups WHERE op = 'send_recv'").fetchall() == [
        (0,)
    ]
