"""A second collection into a tracekit folder replaces that run's files and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tracekit.collect.manifest import Manifest
from tracekit.collect.outdir import MARKER
from tracekit.collect.presets import PRESETS
from tracekit.collect.runner import CollectSpec, collect

pytestmark = pytest.mark.slow


def test_recollecting_removes_the_earlier_runs_files_and_keeps_the_rest(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "tp2pp2"
    shutil.copytree(runs["tp2pp2"], folder)
    # written before the marker existed: its manifest shows the folder is tracekit's
    (folder / MARKER).unlink()
    (folder / "notes.txt").write_text("keep\n")
    (folder / "rank7.log").write_text("no manifest lists this file\n")
    spec = CollectSpec(tp=2, pp=1, shape=PRESETS["tiny"], prompt_len=8, gen_len=2)
    collect(spec, folder, command_line=["t"], timeout_s=120)
    assert sorted(p.name for p in folder.iterdir()) == [
        MARKER,
        "manifest.json",
        "notes.txt",
        "rank0.log",
        "rank0.pt.trace.json.gz",
        "rank1.log",
        "rank1.pt.trace.json.gz",
        "rank7.log",
    ]
    assert (folder / "notes.txt").read_text() == "keep\n"
    manifest = Manifest.read(folder / "manifest.json")
    assert manifest.complete and manifest.parallel.world_size == 2
