"""benchmarks/report_speed.py runs end to end (on a committed sample, once) and prints a
figure for the import, the report and every TUI screen it visits; no figure is judged."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import report_speed  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def test_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    report_speed.main([str(REPO / "sample_traces" / "tp2"), "--repeat", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tp2: median of 1, load average ")
    figure = r"\s+\d+\.\d\d s wall\s+\d+\.\d\d s CPU"
    assert re.fullmatch(r"  import" + figure, lines[1])
    assert re.fullmatch(r"  report" + figure + r"  = \d+\.\d\d x import \(target <= 2\)", lines[2])
    screens = [line[6:24].strip() for line in lines[3:]]
    assert screens == [
        "Runs (rows shown)",
        "Runs (all columns)",
        *(screen for _, screen in report_speed.VISITS),
    ]
    assert all(re.fullmatch(r"  TUI .{18}" + figure + r"  \(target < 1 s\)", x) for x in lines[3:])
