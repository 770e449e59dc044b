"""Bad input to `tracekit study` and `tracekit compare`: exit 2, one paragraph naming the
option and what to do, nothing collected or written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robustness.conftest import assert_clean_failure, cli, tk


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--gpus", "4", "--layouts", "tp2"], ["--layouts", "tp2", "--gpus 4"]),
        (["--gpus", "4", "--layouts", "tp4,xx"], ["--layouts", "'xx'"]),
        (["--gpus", "0"], ["--gpus 0"]),
        (["--gen-len", "3,0"], ["--gen-len 3,0"]),
        (["--batch", "two"], ["--batch two"]),
        (["--dtype", "int3"], ["--dtype", "int3"]),
        (["--device", "gpu"], ["--device", "'gpu'", "auto, cpu, cuda"]),
        (["--backend", "mpi"], ["--backend", "'mpi'", "auto, gloo, nccl"]),
        (["--model", "nosuch"], ["nosuch"]),
    ],
)
def test_study_options(tmp_path: Path, args: list[str], names: list[str]) -> None:
    out = tmp_path / "study"
    assert_clean_failure(cli("study", "--out", out, *args), *names)
    assert not out.exists()


def test_plot_is_a_file(tmp_path: Path) -> None:
    plot = tmp_path / "figures"
    plot.write_text("not a folder")
    out = tmp_path / "study"
    assert_clean_failure(tk("study", "--out", out, "--plot", plot), "--plot", str(plot))
    assert not out.exists()
    db = tmp_path / "nothing.duckdb"
    assert_clean_failure(cli("compare", "--db", db, "--plot", plot), "--plot")


def test_out_is_a_file(tmp_path: Path) -> None:
    out = tmp_path / "study"
    out.write_text("a file")
    assert_clean_failure(cli("study", "--out", out, "--gen-len", "2"), "--out", str(out))
    assert out.read_text() == "a file"
