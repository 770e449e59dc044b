"""A stand-in tracekit store for validate tests (the fixture ``store`` is in conftest.py).

``runs`` comes from the real schema (queries/schema/01_runs.sql). ``comm_ops`` is a
hand-made TABLE with the columns the importer's view promises (run_id, rank, trace_id,
op, ts_ns, dur_ns, msg_bytes, in_bytes, out_bytes, dtype, group_size, phase), filled
with calls synthesised from the model with known alpha/beta. It stands in until
`tracekit import` lands its ``comm_ops`` view; then these tests should build the store
with the importer from CPU runs made by `tracekit collect`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tracekit.model.predict import predict
from tracekit.model.timing import AlphaBeta
from tracekit.presets import get_preset
from tracekit.resources import queries_dir

KNOWN = AlphaBeta(alpha_s=20e-6, beta_bps=2e9)
COMM_OPS = """
CREATE TABLE comm_ops (
    run_id VARCHAR, rank INTEGER, trace_id INTEGER, op VARCHAR, ts_ns BIGINT,
    dur_ns BIGINT, msg_bytes BIGINT, in_bytes BIGINT, out_bytes BIGINT,
    dtype VARCHAR, group_size INTEGER, phase VARCHAR
)
"""


def manifest(tp: int, pp: int, *, batch: int = 2, prompt_len: int = 3, gen_len: int = 4) -> dict:
    """The keys `tracekit collect` writes to manifest.json (collect branch) that matter."""
    return {
        "complete": True,
        "model": {**asdict(get_preset("tiny")), "dtype": "float32"},
        "parallel": {"tp": tp, "pp": pp, "world_size": tp * pp, "backend": "gloo"},
        "workload": {
            "batch": batch,
            "prompt_len": prompt_len,
            "gen_len": gen_len,
            "warmup": 1,
            "seed": 0,
            "profiler": "torch",
        },
    }


def synthetic_calls(run_id: str, man: dict, op_names: dict[str, str] | None = None) -> pl.DataFrame:
    """One row per call the model predicts for ``man``, timed with ``KNOWN``."""
    work = man["workload"]
    rows = predict(
        get_preset("tiny"),
        man["parallel"]["tp"],
        man["parallel"]["pp"],
        batch=work["batch"],
        prompt_len=work["prompt_len"],
        gen_len=work["gen_len"],
        dtype=man["model"]["dtype"],
    )
    out = []
    for r in rows.iter_rows(named=True):
        dur = round(KNOWN.time_s(r["bus_bytes"]) * 1e9)
        for _ in range(r["count"]):
            out.append(
                {
                    "run_id": run_id,
                    "rank": r["rank"],
                    "trace_id": r["rank"] + 1,
                    "op": (op_names or {}).get(r["op"], r["op"]),
                    "ts_ns": len(out) * 1000,
                    "dur_ns": dur,
                    "msg_bytes": r["msg_bytes"],
                    "in_bytes": r["msg_bytes"],
                    "out_bytes": r["msg_bytes"],
                    "dtype": "float32",
                    "group_size": r["group_size"],
                    "phase": r["phase"],
                }
            )
    return pl.DataFrame(out)


@pytest.fixture
def store(tmp_path: Path) -> Callable[..., Path]:
    """Build a stand-in store: ``store({run_id: (manifest, calls DataFrame)})``."""

    def build(runs: dict[str, tuple[dict | None, pl.DataFrame | None]]) -> Path:
        path = tmp_path / "standin.duckdb"
        with duckdb.connect(str(path)) as con:
            con.execute((queries_dir() / "schema" / "01_runs.sql").read_text())
            con.execute(COMM_OPS)
            for run_id, (man, calls) in runs.items():
                con.execute(
                    "INSERT INTO runs (run_id, origin_ns, manifest) VALUES (?, 0, ?)",
                    [run_id, None if man is None else json.dumps(man)],
                )
                if calls is not None and not calls.is_empty():
                    con.register("_calls", calls.to_arrow())
                    con.execute("INSERT INTO comm_ops BY NAME SELECT * FROM _calls")
                    con.unregister("_calls")
        return path

    return build
