"""The screens of `tracekit tui`, one module each."""
