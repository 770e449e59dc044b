"""The README's TUI capture is what the Ranks screen shows on the tp2pp2 sample, and
docs/tui.md's captures are what each screen shows."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.tui.tui_helpers import goto, make_app, settle
from tracekit.tui.capture import screen_text

sys.path.insert(0, str(REPO / "docs"))
import capture_tui  # noqa: E402


def readme_tui_capture() -> list[str]:
    text = (REPO / "README.md").read_text()
    start = text.index("```text\n 1 Runs  2 Ranks") + len("```text\n")
    return text[start : text.index("```", start)].splitlines()


async def test_readme_capture_is_the_ranks_screen(sample_db: Path) -> None:
    app = make_app(sample_db)
    app.show_timings = False
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.choose_run("tp2pp2")
        await goto(pilot, "2")
        shown = [line.rstrip() for line in screen_text(app).splitlines() if line.strip()]
    assert [line.rstrip() for line in readme_tui_capture() if line.strip()] == shown


def docs_captures() -> list[str]:
    return re.findall(r"```text\n(.*?)\n```", (REPO / "docs" / "tui.md").read_text(), re.S)


async def test_docs_tui_captures_are_the_screens_of_today(sample_db: Path, tmp_path: Path) -> None:
    """docs/tui.md holds each of docs/capture_tui.py's shots as the app draws it now
    (regenerate: python docs/capture_tui.py DB docs/tui tp2pp2)."""
    documented = docs_captures()
    for name, keys in capture_tui.SHOTS:
        text = await capture_tui.capture(sample_db, tmp_path, name, keys, "tp2pp2")
        assert text in documented, name
