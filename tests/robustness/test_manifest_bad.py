"""Malformed collect manifests: an InputError naming manifest.json and the field, before
the database is touched, never a traceback, and never stored.

Each case writes two generated Kineto traces and a manifest beside them. One case runs
the CLI (exit 2, one paragraph, no file at the new --db path); the others import in
process, which is the same code path without starting Python each time.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.kineto import Trace
from tests.robustness.conftest import assert_clean_failure, digest, tk
from tracekit.collect.manifest import (
    Latency,
    Manifest,
    ManifestModel,
    ManifestParallel,
    ManifestRank,
    ManifestWorkload,
)
from tracekit.collect.presets import PRESETS
from tracekit.errors import InputError
from tracekit.ingest.loader import import_paths

AR = "ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevComm*, unsigned long, ncclWork*)"
GOOD = Manifest(
    parallel=ManifestParallel(tp=2, pp=1, world_size=2, backend="nccl", layers_per_stage=(4,)),
    ranks=tuple(
        ManifestRank(r, r % 2, 0, "node0", f"cuda:{r}", f"rank{r}.json", f"rank{r}.log")
        for r in range(2)
    ),
    complete=True,
    model=ManifestModel(PRESETS["tiny"], "float32"),
    workload=ManifestWorkload(batch=2, prompt_len=8, gen_len=4),
    latency=(Latency(0, 1.5, 0.5, 3.0),),
)


def run_folder(base: Path, edit: Callable[[dict], object] | bytes) -> Path:
    """Two ranks' traces and a manifest: GOOD's JSON changed by ``edit`` (or raw bytes)."""
    folder = base / "run"
    for rank in range(2):
        Trace(rank=rank, world_size=2).kernel(AR, ts=10.0, dur=5.0).write(folder)
    if isinstance(edit, bytes):
        text = edit
    else:
        data = copy.deepcopy(GOOD.to_json())
        data = edit(data) or data
        text = json.dumps(data).encode()
    (folder / "manifest.json").write_bytes(text)
    return folder


def set_path(path: str, value: object) -> Callable[[dict], None]:
    """An edit that sets ``a.b[0].c`` (or deletes it when ``value`` is DELETE)."""

    def edit(data: dict) -> None:
        keys = [
            int(k) if k.isdigit() else k for k in path.replace("[", ".").replace("]", "").split(".")
        ]
        target = data
        for key in keys[:-1]:
            target = target[key]
        if value is DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return edit


DELETE = object()

CASES: dict[str, tuple[Callable[[dict], object] | bytes, str]] = {
    "wrong JSON": (b'{"parallel": {"tp": 2,', "not valid JSON"),
    "not an object": (lambda d: [d], "as a whole must be a JSON object"),
    "layout missing": (set_path("parallel", DELETE), "`parallel`"),
    "world size missing": (set_path("parallel.world_size", DELETE), "`parallel.world_size`"),
    "world size as text": (set_path("parallel.world_size", "two"), "`parallel.world_size`"),
    "tp × pp ≠ world size": (set_path("parallel.pp", 2), "`parallel.world_size`"),
    "negative degree": (set_path("parallel.tp", -2), "`parallel.tp`"),
    "boolean degree": (set_path("parallel.pp", True), "`parallel.pp`"),
    "ranks too short": (lambda d: d["ranks"].pop() and None, "`ranks`"),
    "ranks not a list": (set_path("ranks", {"0": "rank0.json"}), "`ranks`"),
    "rank entry not an object": (set_path("ranks[1]", 1), "`ranks[1]`"),
    "rank out of order": (set_path("ranks[1].rank", 0), "`ranks[1].rank`"),
    "tp_rank against the layout": (set_path("ranks[1].tp_rank", 0), "`ranks[1].tp_rank`"),
    "latency as text": (set_path("latency[0].ttft_ms", "fast"), "`latency[0].ttft_ms`"),
    "unknown version": (set_path("manifest_version", 7), "`manifest_version`"),
    "huge rank number": (set_path("ranks[0].rank", 2**40), "`ranks[0].rank`"),
    "huge integer beyond 64 bits": (set_path("parallel.tp", 10**30), "`parallel.tp`"),
    "huge latency": (set_path("latency[0].e2e_ms", 1e300), "`latency[0].e2e_ms`"),
    "nested junk": (set_path("ranks[0].host", {"a": [[["x"]]]}), "`ranks[0].host`"),
    "model junk": (set_path("model", [1, {"b": 2}]), "`model`"),
    "file outside the folder": (set_path("ranks[0].trace", "../../x.json"), "`ranks[0].trace`"),
    "layers per stage wrong": (set_path("parallel.layers_per_stage", [3]), "layers_per_stage"),
    "workload count missing": (set_path("workload.gen_len", DELETE), "`workload.gen_len`"),
    "unknown logits collective": (
        set_path("workload.logits_collective", "scatter"),
        "`workload.logits_collective`",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_manifest_is_an_input_error_naming_the_field(case: str, tmp_path: Path) -> None:
    edit, field = CASES[case]
    folder = run_folder(tmp_path, edit)
    db = tmp_path / "new.duckdb"
    with pytest.raises(InputError) as info:
        import_paths(db, [folder], workers=1)
    assert str(folder / "manifest.json") in info.value.message
    assert field in info.value.message
    assert "move manifest.json aside" in info.value.hint
    assert digest(db) is None


def test_the_cli_fails_in_one_paragraph_and_creates_no_database(tmp_path: Path) -> None:
    folder = run_folder(tmp_path, set_path("parallel.tp", -2))
    db = tmp_path / "new.duckdb"
    proc = tk("import", folder, "--db", db)
    assert_clean_failure(proc, "manifest.json", "parallel.tp", "move manifest.json aside")
    assert digest(db) is None


def test_credentials_in_the_command_lines_are_not_stored(tmp_path: Path) -> None:
    tokens = ("sk-proj-abcdefghijklmnop1234", "hf_AbCdEfGh12345678", "ghp_0123456789abcdefABCD")
    command = f"tracekit collect --nsys --out run -- vllm serve --api-key {tokens[0]}"
    wrapped = f"env HF_TOKEN={tokens[1]} python app.py"
    error = f"rank 0 failed; see https://user:{tokens[2]}@example.com/log"

    def edit(data: dict) -> None:
        data |= {"command": command, "wrapped_command": wrapped, "error": error}

    folder = run_folder(tmp_path, edit)
    db = tmp_path / "ok.duckdb"
    import_paths(db, [folder], workers=1)
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT manifest FROM runs").fetchone()[0]
    for token in tokens:
        assert token not in stored and token not in db.read_bytes().decode("latin-1")
    kept = json.loads(stored)
    assert kept["command"].endswith("vllm serve --api-key [redacted]")
    assert kept["wrapped_command"] == "env HF_TOKEN=[redacted] python app.py"


def test_a_good_manifest_round_trips_and_gives_the_layout(tmp_path: Path) -> None:
    folder = run_folder(tmp_path, lambda d: None)
    assert Manifest.read(folder / "manifest.json") == GOOD
    db = tmp_path / "ok.duckdb"
    import_paths(db, [folder], workers=1)
    with duckdb.connect(str(db), read_only=True) as con:
        tp, pp, world, stored = con.execute(
            "SELECT tp, pp, world_size, manifest FROM runs"
        ).fetchone()
        layout = con.execute("SELECT rank, tp_rank, pp_rank, host FROM rank_layout ORDER BY 1")
        assert layout.fetchall() == [(0, 0, 0, "node0"), (1, 1, 0, "node0")]
    assert (tp, pp, world) == (2, 1, 2)
    assert Manifest.from_json(json.loads(stored), "runs.manifest") == GOOD
