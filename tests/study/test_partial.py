"""A study in which one layout fails for real: tiny (4 heads, 2 KV heads, vocabulary 512)
cannot be split over TP3, so `--gpus 3` runs PP3 and reports TP3. The study exits 3
(partial), prints the comparison of what ran, and a second run skips PP3 and retries TP3."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.study.conftest import tk

pytestmark = pytest.mark.slow

PP3, TP3 = "tp1pp3-b1-p4-g2", "tp3pp1-b1-p4-g2"
ARGS = ("--gpus", "3", "--batch", "1", "--prompt-len", "4", "--gen-len", "2", "--format", "json")


def test_a_failing_layout_is_reported_the_others_run_and_a_rerun_resumes(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "study"
    first = tk("study", *ARGS, "--out", out)
    assert first.returncode == 3, first.stdout + first.stderr
    assert f"[1/2] {TP3}: collecting" in first.stderr
    assert f"[2/2] {PP3}: collecting" in first.stderr
    assert f"[2/2] {PP3}: importing" in first.stderr
    said = " ".join(first.stderr.split())
    assert f"1 of 2 runs failed ({TP3}: cannot run this layout: heads=4 is not divisible" in said
    assert "Traceback" not in first.stderr
    rows = json.loads(first.stdout)  # the comparison of what ran
    assert [(r["run_id"], r["layout"], r["model_match"]) for r in rows] == [(PP3, "PP3", True)]
    assert rows[0]["calls"] == rows[0]["pred_calls"] > 0
    assert (out / "runs" / PP3 / "manifest.json").is_file()
    assert (out / "report.md").is_file()

    db = out / "study.duckdb"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    again = tk("study", *ARGS, "--out", out)
    assert again.returncode == 3, again.stdout + again.stderr
    assert f"[2/2] {PP3}: skipped" in again.stderr and f"{PP3}: collecting" not in again.stderr
    assert f"[1/2] {TP3}: collecting" in again.stderr  # the failed layout is retried
    assert "1 of 2 runs failed" in " ".join(again.stderr.split())
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert [r["run_id"] for r in json.loads(again.stdout)] == [PP3]
