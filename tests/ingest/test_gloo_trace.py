"""A real 2-process gloo job under torch.profiler: communication found, sized and timed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tracekit.ingest.loader import import_paths

pytest.importorskip("torch", reason="the gloo job needs torch (pip install '.[collect]')")

JOB = r"""
import os, socket, sys
import torch, torch.distributed as dist, torch.multiprocessing as mp
from torch.profiler import profile, ProfilerActivity, record_function

def run(rank, port, out):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    x = torch.ones(4, 16)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("tk:layer=0"):
            y = x @ x.T
            dist.all_reduce(y)
            out_list = [torch.empty(4, 16) for _ in range(2)]
            dist.all_gather(out_list, x)
            if rank == 0:
                dist.send(x, 1)
            else:
                dist.recv(x, 0)
            dist.broadcast(x, 0)
    prof.export_chrome_trace(os.path.join(out, f"rank{rank}.pt.trace.json.gz"))
    dist.destroy_process_group()

if __name__ == "__main__":
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(run, args=(port, sys.argv[1]), nprocs=2)
"""


@pytest.fixture(scope="module")
def gloo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gloo_job")
    script = out / "job.py"
    script.write_text(JOB)
    subprocess.run([sys.executable, str(script), str(out)], check=True, timeout=120)
    db = out / "gloo.duckdb"
    import_paths(db, [out])
    return db


@pytest.mark.slow
def test_collectives_found_with_exact_message_bytes(gloo_db: Path) -> None:
    con = duckdb.connect(str(gloo_db), read_only=True)
    rows = con.execute(
        "SELECT rank, op, count(*), min(in_bytes), max(in_bytes) FROM comm_ops "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert rows == [
        (0, "all_gather", 1, 256, 256),
        (0, "all_reduce", 1, 64, 64),
        (0, "broadcast", 1, 256, 256),
        (0, "send", 1, 256, 256),
        (1, "all_gather", 1, 256, 256),
        (1, "all_reduce", 1, 64, 64),
        (1, "broadcast", 1, 256, 256),
        (1, "recv", 1, 256, 256),
    ]


@pytest.mark.slow
def test_cpu_lane_overlap_matches_the_trace(gloo_db: Path) -> None:
    con = duckdb.connect(str(gloo_db), read_only=True)
    for lane, comm_ns, compute_ns, overlap_ns, exposed, path in con.execute(
        "SELECT o.lane, o.comm_ns, o.compute_ns, o.overlap_ns, o.exposed_comm_ns, t.path "
        "FROM overlap_by_rank o JOIN traces t USING (trace_id) ORDER BY o.rank"
    ).fetchall():
        assert lane == "cpu"
        events = json.loads(__import__("gzip").decompress(Path(path).read_bytes()))["traceEvents"]
        gloo = sorted(
            (round(e["ts"] * 1000), round(e["ts"] * 1000) + round(e["dur"] * 1000))
            for e in events
            if e.get("ph") == "X" and e["name"].startswith("gloo:")
        )
        union, end = 0, None
        for s, e in gloo:
            if end is None or s > end:
                union, end = union + e - s, e
            elif e > end:
                union, end = union + e - end, e
        assert comm_ns == pytest.approx(union, abs=len(gloo))
        assert compute_ns > 0
        assert exposed == comm_ns - overlap_ns
    launches = con.execute(
        "SELECT count(*), count(a.name) FROM comm_ops c "
        "LEFT JOIN event_annotations a USING (trace_id, event_id) WHERE c.rank = 0"
    ).fetchall()
    assert launches == [(4, 4)], "every gloo op is attributed to the tk:layer=0 range"
