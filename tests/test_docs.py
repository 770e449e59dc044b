"""Generated documentation stays in step with its sources."""

from __future__ import annotations

from tests.conftest import REPO
from tracekit import schema_doc


def test_schema_page_is_current() -> None:
    assert (REPO / "docs" / "schema.md").read_text() == schema_doc.render(), (
        "regenerate: python -m tracekit.schema_doc > docs/schema.md"
    )
