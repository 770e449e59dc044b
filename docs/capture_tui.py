"""Regenerate the text captures and SVG screenshots in docs/tui.md and docs/tui/.

Usage: python docs/capture_tui.py DB [OUT_DIR [RUN]]   (prints each capture as Markdown)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tracekit.tui.app import TracekitApp
from tracekit.tui.capture import screen_text

SHOTS: list[tuple[str, list[str]]] = [
    ("runs", []),
    ("ranks", ["2"]),
    ("collectives", ["3", "right", "right", "right", "right", "s"]),
    ("overlap", ["4"]),
    ("instances", ["5"]),
    ("timeline", ["6", "down"] + ["right"] * 14 + ["enter"]),
    ("sql", ["7", "ctrl+r"]),
    ("help", ["6", "question_mark"]),
]


async def capture(db: Path, out: Path, name: str, keys: list[str], run: str | None) -> str:
    app = TracekitApp.open(db, show_timings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if run and name != "runs":
            app.choose_run(run)
        for key in ["", *keys]:
            if key:
                await pilot.press(key)
            for _ in range(3):
                await pilot.pause()
                await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot(filename=f"{name}.svg", path=str(out))
        return screen_text(app)


def main() -> None:
    db = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("docs/tui")
    run = sys.argv[3] if len(sys.argv) > 3 else None
    out.mkdir(parents=True, exist_ok=True)
    for name, keys in SHOTS:
        text = asyncio.run(capture(db, out, name, keys, run))
        print(f"### {name}\n\n```text\n{text}\n```\n")


if __name__ == "__main__":
    main()
