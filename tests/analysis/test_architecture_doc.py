"""docs/architecture.md stays true: every file and folder it names exists, every public
name of the analysis API it names is exported, and each package imports only the layers
below it that the page names."""

from __future__ import annotations

import ast
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


# What each package of tracekit/ may import (the page's "Imports flow one way"), besides
# the shared leaf modules; cli may import everything.
LAYERS = {
    "store": set(),
    "analysis": {"store"},
    "tui": {"analysis"},
    "ingest": {"collect", "store"},
    "collect": {"model"},
    "model": {"analysis", "collect", "store"},
    "study": {"analysis", "collect", "ingest", "model", "store"},
}
LEAVES = {"errors", "places", "resources", "secrets", "render", "__version__"}


def imported(package: str) -> set[str]:
    """The tracekit packages and modules the modules of ``package`` import."""
    found = set()
    for path in (ROOT / "tracekit" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                if parts[0] == "tracekit" and len(parts) > 1:
                    found.add(parts[1])
                elif node.module == "tracekit":
                    found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.Import):
                names = [a.name.split(".") for a in node.names]
                found |= {n[1] for n in names if n[0] == "tracekit" and len(n) > 1}
    return found - {package}


def test_packages_import_only_the_layers_below() -> None:
    assert "`cli` → `tui`, `study` → `model` → `analysis` → `store`" in DOC
    for package, allowed in LAYERS.items():
        assert imported(package) - LEAVES <= allowed, package
    assert imported("tui") - LEAVES == {"analysis"}
