"""`tracekit tui`: a Textual interface over a tracekit database (the only Textual user)."""
