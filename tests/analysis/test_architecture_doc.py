"""docs/architecture.md stays true: every file and folder it names exists, and every public
name of the analysis API it names is exported."""

from __future__ import annotations

import re
from pathlib import Path

from tracekit import analysis

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()


def test_every_path_named_exists() -> None:
    paths = set(re.findall(r"\b((?:tracekit|queries|collectors)/[\w./*-]*)", DOC))
    assert len(paths) > 10
    for path in paths:
        found = list(ROOT.glob(path)) if "*" in path else [ROOT / path]
        assert found and all(p.exists() for p in found), path


def test_analysis_names_are_exported() -> None:
    for name in ("Result", "MissingView"):
        assert f"`{name}" in DOC and name in analysis.__all__
