"""The `tracekit collect` command: help, dry runs, errors, shape resolution."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tracekit
from tracekit.cli import app
from tracekit.cli.collect_cmd import HELP
from tracekit.collect.presets import PRESETS
from tracekit.collect.runner import CollectSpec, check_spec, resolve_shape, worker_argv
from tracekit.errors import TracekitError

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def test_help_ends_with_a_runnable_example() -> None:
    result = runner.invoke(app, ["collect", "--help"])
    assert result.exit_code == 0
    assert "tracekit collect --tp 2 --pp 1 --out runs/tp2" in result.output
    assert HELP.strip().splitlines()[-1].strip() == "tracekit collect --tp 2 --pp 1 --out runs/tp2"


def test_dry_run_prints_the_rank_commands(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["collect", "--tp", "2", "--pp", "2", "--out", str(tmp_path), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("RANK=")]
    assert len(lines) == 4
    assert "--model tiny --layers 4 --hidden 64" in lines[0]


def test_wrap_dry_run_prints_the_rewritten_torchrun(tmp_path: Path) -> None:
    args = ["collect", "--nsys", "--dry-run", "--out", str(tmp_path), "--"]
    result = runner.invoke(app, [*args, "torchrun", "--nproc-per-node", "2", "app.py"])
    assert result.exit_code == 0, result.output
    assert "torchrun --nproc-per-node 2 --no-python nsys profile" in result.output


def test_user_errors_are_one_block_and_exit_code_2(tmp_path: Path) -> None:
    code = "from tracekit.cli import main; main()"
    root = str(Path(tracekit.__file__).resolve().parent.parent)
    proc = subprocess.run(
        [sys.executable, "-c", code, "collect", "--tp", "3", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": root, "COLUMNS": "200"},
    )
    assert proc.returncode == 2
    assert "heads=4 is not divisible by --tp 3" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_extra_arguments_without_nsys_are_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["collect", "--out", str(tmp_path), "--", "python", "x.py"])
    assert isinstance(result.exception, TracekitError)
    assert "--nsys" in result.exception.hint


def test_presets_and_overrides_resolve() -> None:
    assert resolve_shape("llama-3.1-8b", None, {}) == PRESETS["llama-3.1-8b"]
    shape = resolve_shape("llama-3-70b", None, {"layers": 2, "hidden": None})
    assert (shape.layers, shape.hidden) == (2, 8192)
    with pytest.raises(TracekitError, match="unknown model 'gpt'"):
        resolve_shape("gpt", None, {})


def test_checkpoint_config_gives_the_shape(tmp_path: Path) -> None:
    config = {
        "num_hidden_layers": 2,
        "hidden_size": 32,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 64,
        "vocab_size": 128,
        "rope_theta": 10000.0,
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": 256,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    shape = resolve_shape("tiny", tmp_path, {})
    assert (shape.layers, shape.hidden, shape.kv_heads, shape.vocab) == (2, 32, 2, 128)
    assert shape.rms_eps == 1e-6 and shape.max_positions == 256
    with pytest.raises(TracekitError, match="no config.json"):
        resolve_shape("tiny", tmp_path / "missing", {})


def test_every_preset_shards_for_the_studied_layouts() -> None:
    for name in ("llama-3.2-3b", "llama-3.1-8b", "llama-2-13b"):
        for tp, pp in ((2, 1), (4, 1), (8, 1), (1, 8), (2, 4), (4, 2)):
            check_spec(CollectSpec(tp=tp, pp=pp, shape=PRESETS[name], prompt_len=128, gen_len=128))


def test_invalid_layouts_are_explained() -> None:
    with pytest.raises(TracekitError, match="layers=4 is fewer than --pp 8"):
        check_spec(CollectSpec(tp=1, pp=8, shape=PRESETS["tiny"]))
    with pytest.raises(TracekitError, match="cannot use --device cpu"):
        check_spec(CollectSpec(tp=1, pp=1, shape=PRESETS["tiny"], profiler="nsys", device="cpu"))
    with pytest.raises(TracekitError, match="exceed max_positions"):
        check_spec(CollectSpec(tp=1, pp=1, shape=PRESETS["tiny"], prompt_len=1000, gen_len=100))


def test_worker_command_carries_the_whole_shape(tmp_path: Path) -> None:
    argv = worker_argv(CollectSpec(tp=2, pp=1, shape=PRESETS["llama-2-13b"]), tmp_path, "py")
    assert argv[0] == "py" and argv[1].endswith("worker.py")
    text = " ".join(argv)
    for part in ("--kv-heads 40", "--intermediate 13824", "--vocab 32000", "--rope-theta 10000.0"):
        assert part in text


def test_outcome_lines_stay_whole_in_a_pipe(tmp_path: Path) -> None:
    """A piped collect prints its three outcome lines whole at any path length (Rich used
    to cut them at 80 columns, splitting the path and the `next:` command), the path
    taken literally (no markup) and the next command runnable as written."""
    from tracekit.cli._app import console
    from tracekit.cli.collect_cmd import _report
    from tracekit.collect.manifest import Manifest
    from tracekit.collect.runner import CollectResult

    manifest = Manifest.read(REPO / "sample_traces" / "tp2pp2" / "manifest.json")
    out = tmp_path / ("a long folder name [v2] " * 4).strip() / "runs" / "demo"
    with console.capture() as captured:
        _report(CollectResult(out=out, manifest=manifest, commands=()), dry_run=False)
    lines = captured.get().splitlines()
    latency = manifest.latency[0]
    assert lines == [
        f"complete: {out / 'manifest.json'}",
        f"TTFT {latency.ttft_ms:.1f} ms · TPOT {latency.tpot_ms:.1f} ms · "
        f"end-to-end {latency.e2e_ms:.1f} ms (request 0, measured on rank 0)",
        f"next: tracekit import '{out}'",
    ]
    assert len(lines[0]) > console.width
