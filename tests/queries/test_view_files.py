"""Each analysis SQL file defines the public view it is named after, documented in its
header and in docs/analyses.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "queries" / "views").glob("4*.sql"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_one_public_view_named_after_the_file(path: Path) -> None:
    text = path.read_text()
    name = path.stem.split("_", 1)[1]
    public = [v for v in re.findall(r"CREATE OR REPLACE VIEW (\w+)", text) if v[0] != "_"]
    assert public == [name]
    assert text.startswith(f"-- {name}:")
    assert "-- Depends on:" in text
    assert f"`{name}`" in (ROOT / "docs" / "analyses.md").read_text()
