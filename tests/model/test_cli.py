"""`tracekit model` and `tracekit validate` through the CLI, on the real sample runs
(``samples_db`` in conftest.py) and, for a run without a manifest, on two traces of
the shared dlrm_8rank job (skipped where ../shared/traces is absent).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.model.conftest import tracekit
from tracekit.ingest.loader import import_paths

pytest.importorskip("tracekit.cli.import_cmd", reason="tracekit.cli needs `import` from main")

from typer.testing import CliRunner  # noqa: E402

from tracekit.cli import app  # noqa: E402

DOCS = Path(__file__).resolve().parents[2] / "docs" / "study-reproduction.md"
runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_model_json() -> None:
    out = json.loads(
        run(
            "model",
            "--model",
            "llama-3.1-8b",
            "--tp",
            "4",
            "--prompt-len",
            "128",
            "--gen-len",
            "128",
            "--dtype",
            "bf16",
            "--sample",
            "none",
            "--format",
            "json",
        )
    )
    assert out["summary"]["study_bytes"] == 211_881_984
    assert out["summary"]["lane_wire_bytes"] == 211_881_984
    ops = {(c["phase"], c["op"]): c["count"] for c in out["collectives"]}
    assert ops[("decode", "all_reduce")] == 4 * 65 * 127
    assert ops[("prefill", "gather")] == 4


def test_model_with_the_logits_all_gathered() -> None:
    """Item 14: the vLLM V1 all-gather replaces the gather; the study's figure (which
    counts the gather) is unchanged."""
    args = ["model", "--model", "llama-3.1-8b", "--tp", "4", "--prompt-len", "128"]
    args += ["--gen-len", "128", "--sample", "none", "--format", "json"]
    out = json.loads(run(*args, "--logits-collective", "all_gather"))
    assert out["summary"]["study_bytes"] == 211_881_984
    ops = {(c["phase"], c["op"]): c for c in out["collectives"]}
    assert ("prefill", "gather") not in ops
    assert ops[("prefill", "all_gather")]["count"] == 4
    gathered = {(c["phase"], c["op"]): c for c in json.loads(run(*args))["collectives"]}
    assert (
        ops[("decode", "all_gather")]["total_bytes"]
        == 4 * gathered[("decode", "gather")]["total_bytes"]
    )


def test_model_sweep_and_time() -> None:
    out = json.loads(
        run(
            "model",
            "--tp",
            "1,2,4,8",
            "--pp",
            "1,2,4,8",
            "--gpus",
            "8",
            "--alpha-us",
            "10",
            "--beta-gbps",
            "100",
            "--format",
            "json",
        )
    )
    ranked = [(c["tp"], c["pp"]) for c in out["configurations"]]
    assert ranked == [(1, 8), (2, 4), (4, 2), (8, 1)]
    assert all(c["comm_time_s"] > 0 for c in out["configurations"])
    assert "configurations by total wire volume" in run("model", "--tp", "1,2", "--pp", "1,2")


def test_study_markdown_is_the_docs_page() -> None:
    assert run("model", "--study", "--format", "markdown") == DOCS.read_text()


def test_validate_on_a_collected_run(samples_db: Path) -> None:
    db = str(samples_db)
    out = json.loads(run("validate", "--db", db, "--run", "tp2pp2", "--format", "json"))
    assert out["counts_and_bytes_match"] is True
    assert out["time_in_sample"] is True
    assert (out["spec"]["tp"], out["spec"]["pp"]) == (2, 2)
    inside = [r for r in out["by_op"] if r["phase"] != "outside"]
    assert len(inside) == 12
    assert all(r["pred_count"] == r["meas_count"] for r in inside)
    assert all(r["pred_bytes"] == r["meas_bytes"] for r in inside)
    table = run("validate", "--db", db, "--run", "tp2pp2")
    assert "counts and bytes: match" in table
    assert "in sample" in table
    other = json.loads(
        run("validate", "--db", db, "--run", "tp2", "--fit-run", "tp2pp2", "--format", "json")
    )
    assert other["time_in_sample"] is False
    assert other["time_model"]["source"] == "fitted to run tp2pp2"
    assert run("validate", "--db", db, "--run", "pp2", "--check", "--per-rank")


def test_validate_a_run_without_manifest(shared_traces: Path, tmp_path: Path) -> None:
    """Traces imported from elsewhere (no manifest.json): a clear error, exit 2."""
    folder = tmp_path / "dlrm"
    folder.mkdir()
    for rank in (0, 1):
        name = f"rank{rank}.pt.trace.json.gz"
        shutil.copy(shared_traces / "kineto" / "dlrm_8rank" / name, folder / name)
    db = tmp_path / "dlrm.duckdb"
    import_paths(db, [folder], run="dlrm")
    done = tracekit("validate", "--db", str(db), "--run", "dlrm")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "run 'dlrm' has no manifest" in done.stderr
    assert "tracekit collect" in done.stderr
    assert "Traceback" not in done.stderr


def test_user_errors_exit_2(tmp_path: Path) -> None:
    bad = tracekit("validate", "--db", "x.duckdb", "--run", "r", cwd=tmp_path)
    assert bad.returncode == 2
    assert "no such database" in bad.stderr


@pytest.mark.parametrize("command", ["model", "validate"])
def test_help_ends_with_an_example(command: str) -> None:
    assert "Example: tracekit " + command in run(command, "--help")


def test_model_time_fitted_to_a_run(samples_db: Path) -> None:
    out = json.loads(
        run(
            "model",
            "--model",
            "tiny",
            "--tp",
            "2",
            "--dtype",
            "fp32",
            "--fit-db",
            str(samples_db),
            "--fit-run",
            "tp2",
            "--format",
            "json",
        )  # fmt: skip
    )
    assert out["time_model"]["source"] == "fitted to run tp2"
    assert out["summary"]["comm_time_s"] > 0
