"""The analytical communication model (pure Python: no Typer, no Rich, no printing)."""
