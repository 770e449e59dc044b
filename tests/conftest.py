"""Shared fixtures: the real trace corpus, small traces the tests write, a collected run."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tracekit.ingest.loader import import_paths

REPO = Path(__file__).resolve().parents[1]
SHARED_TRACES = REPO.parent / "shared" / "traces"


@pytest.fixture
def shared_traces() -> Path:
    if not (SHARED_TRACES / "kineto").is_dir():
        pytest.skip(
            f"the real trace corpus is not at {SHARED_TRACES} "
            "(README, 'The real traces, and Holistic Trace Analysis')"
        )
    return SHARED_TRACES


def write_kineto(
    path: Path,
    events: list[dict[str, Any]],
    *,
    rank: int | None = 0,
    world_size: int = 2,
    extra: dict[str, Any] | None = None,
    gz: bool | None = None,
) -> Path:
    """Write a Kineto-style trace the way torch does (metadata, traceEvents, trailing keys)."""
    doc: dict[str, Any] = {"schemaVersion": 1, "deviceProperties": []}
    if rank is not None:
        doc["distributedInfo"] = {"backend": "nccl", "rank": rank, "world_size": world_size}
    doc["traceEvents"] = events
    doc.update(extra or {})
    text = json.dumps(doc, indent=1).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz if gz is not None else path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text))
    else:
        path.write_bytes(text)
    return path


def kernel(
    name: str,
    ts_us: float,
    dur_us: float,
    *,
    stream: int = 7,
    device: int = 0,
    correlation: int | None = None,
    **args: Any,
) -> dict[str, Any]:
    a = {"device": device, "stream": stream, **args}
    if correlation is not None:
        a["correlation"] = correlation
        a["External id"] = correlation
    return {
        "ph": "X",
        "cat": "kernel",
        "name": name,
        "pid": device,
        "tid": stream,
        "ts": ts_us,
        "dur": dur_us,
        "args": a,
    }


def cpu(
    name: str,
    ts_us: float,
    dur_us: float,
    *,
    cat: str = "cpu_op",
    pid: int = 100,
    tid: int = 100,
    **args: Any,
) -> dict[str, Any]:
    return {
        "ph": "X",
        "cat": cat,
        "name": name,
        "pid": pid,
        "tid": tid,
        "ts": ts_us,
        "dur": dur_us,
        "args": args,
    }


@pytest.fixture(scope="session")
def gloo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run 'tp2pp2': the committed `tracekit collect --tp 2 --pp 2` CPU (gloo) sample."""
    db = tmp_path_factory.mktemp("gloo") / "gloo.duckdb"
    import_paths(db, [REPO / "sample_traces" / "tp2pp2"], run="tp2pp2")
    return db
