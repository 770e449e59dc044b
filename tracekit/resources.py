"""Locate the SQL in ``queries/`` and the workloads in ``collectors/``.

In a wheel both ship inside the package (``tracekit/queries``,
``tracekit/collectors``); in a source checkout they sit beside ``tracekit/``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _locate(name: str) -> Path:
    packaged = Path(str(files("tracekit"))) / name
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parent.parent / name
    if source.is_dir():
        return source
    raise FileNotFoundError(f"tracekit is installed without its {name}/ folder")


def queries_dir() -> Path:
    return _locate("queries")


def collectors_dir() -> Path:
    return _locate("collectors")
