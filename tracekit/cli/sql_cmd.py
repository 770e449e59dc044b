"""Local stand-in until the lead merges the real module (NOT committed)."""
