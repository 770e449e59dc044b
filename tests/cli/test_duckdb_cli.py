"""The database file opens in the plain `duckdb` CLI with every view working."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO
from tracekit.ingest.loader import import_paths


def test_every_view_answers_the_same_in_the_duckdb_cli(tmp_path: Path) -> None:
    beside_python = Path(sys.executable).parent
    cli = shutil.which("duckdb", path=f"{beside_python}{os.pathsep}{os.environ.get('PATH', '')}")
    if cli is None:
        pytest.skip("the duckdb CLI is not installed (pip install duckdb-cli, in the dev extra)")
    db = tmp_path / "samples.duckdb"
    import_paths(db, [REPO / "sample_traces"])
    con = duckdb.connect(str(db), read_only=True)
    views = [
        name
        for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND "
            "NOT starts_with(view_name, '_') ORDER BY 1"
        ).fetchall()
    ]
    expected = {v: con.execute(f"SELECT count(*) FROM {v}").fetchall()[0][0] for v in views}
    con.close()
    assert {"comm_ops", "overlap_by_rank", "overlap_by_layer", "collective_instances"} <= set(views)
    query = " UNION ALL ".join(f"SELECT '{v}' AS view, count(*) AS n FROM {v}" for v in views)
    out = subprocess.run(
        [cli, "-readonly", "-json", str(db), "-c", query],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    got = {row["view"]: row["n"] for row in json.loads(out.stdout)}
    assert got == expected
    # the samples are CPU (gloo) runs: no NCCL, no CUDA graph, no GPU run's CPU side
    gpu_only = {"nccl_kernels", "hta_overlap_by_rank", "graph_kernels", "cpu_side_traces"}
    assert [v for v, n in got.items() if n == 0] == sorted(gpu_only)
