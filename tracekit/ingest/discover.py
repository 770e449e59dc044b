"""Find trace files under the paths a user gives, and decide run and rank for each."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tracekit.collect import MANIFEST_NAME
from tracekit.errors import InputError
from tracekit.ingest.contract import Source

if TYPE_CHECKING:
    from tracekit.collect.manifest import Manifest

KINETO_SUFFIXES = (".json", ".json.gz")
NSYS_SUFFIXES = (".sqlite", ".nsys-rep")


def trace_format(path: Path) -> str | None:
    name = path.name.lower()
    if name == MANIFEST_NAME:
        return None
    if name.endswith(KINETO_SUFFIXES):
        return "kineto"
    if name.endswith(NSYS_SUFFIXES):
        return "nsys"
    return None


def discover(paths: list[Path], run: str | None = None) -> list[Source]:
    """Expand files and folders (recursively) into sources grouped into runs.

    The run defaults to the name of the folder that holds the trace; a
    ``manifest.json`` in that folder (written by ``tracekit collect``) is read
    (a malformed one is an InputError before anything is imported) and attached.
    When an nsys report and its SQLite export sit side by side, the export is used.
    When a run holds both Kineto traces and nsys exports (a ``collect --profiler
    both`` folder), the nsys ones form the run ``<run>-nsys``: each rank then
    appears once per run, once per profiler.
    """
    found: list[Path] = []
    for given in paths:
        path = given.expanduser()
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            inside = sorted(
                Path(root) / f
                for root, _dirs, files in os.walk(path)
                for f in files
                if trace_format(Path(f))
            )
            if not inside:
                raise InputError(
                    f"{path}: no traces in this folder",
                    "tracekit reads *.json, *.json.gz (PyTorch profiler) and *.sqlite, "
                    "*.nsys-rep (Nsight Systems), searching sub-folders too.",
                )
            found.extend(inside)
        elif trace_format(path) is None:
            raise InputError(
                f"{path}: not a trace file name",
                "Expected *.json, *.json.gz, *.pt.trace.json[.gz], *.sqlite or *.nsys-rep.",
            )
        else:
            found.append(path)

    unique = sorted({p.resolve() for p in found})
    sqlite_stems = {p.with_suffix("") for p in unique if p.suffix == ".sqlite"}
    sources: list[Source] = []
    manifests: dict[Path, Manifest | None] = {}
    for path in unique:
        if path.suffix == ".nsys-rep" and path.with_suffix("") in sqlite_stems:
            continue
        if path.parent not in manifests:
            manifest = path.parent / MANIFEST_NAME
            manifests[path.parent] = _read_manifest(manifest) if manifest.is_file() else None
        sources.append(
            Source(
                path=path,
                format=trace_format(path) or "kineto",
                run=run or path.parent.name,
                manifest=manifests[path.parent],
            )
        )
    both = {s.run for s in sources if s.format == "nsys"} & {
        s.run for s in sources if s.format == "kineto"
    }
    return [
        replace(s, run=f"{s.run}-nsys") if s.format == "nsys" and s.run in both else s
        for s in sources
    ]


def _read_manifest(path: Path) -> Manifest:
    """The folder's manifest (its module loads only where there is one)."""
    from tracekit.collect.manifest import Manifest

    return Manifest.read(path)
