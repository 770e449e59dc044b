"""Plain-text captures of the running app's screen (for docs and tests)."""

from __future__ import annotations

from textual.app import App


def screen_text(app: App[object]) -> str:
    """The current screen as plain text lines, trailing spaces removed."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)
