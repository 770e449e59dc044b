"""The README's TUI capture is what the Ranks screen shows on the tp2pp2 sample."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO
from tests.tui.tui_helpers import goto, make_app, settle
from tracekit.tui.capture import screen_text


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
