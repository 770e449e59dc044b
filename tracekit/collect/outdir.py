"""The output folder of a collection: a fresh folder, or one tracekit already owns.

``tracekit collect --out DIR`` writes into DIR only when DIR does not exist, is empty,
or holds an earlier collection (tracekit's marker file, or a valid ``manifest.json``
of a run written before the marker existed). Anything else is refused: collect never
mixes its files with other files, and it deletes only files tracekit wrote: those the
earlier run's manifest lists, and the outputs of the ranks it is about to run again.

The marker is the first file written into a folder, so when several ranks started by
a launcher claim one folder at once, a rank never sees another's files without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tracekit.collect.manifest import MANIFEST_NAME, Manifest
from tracekit.errors import InputError, TracekitError

MARKER = ".tracekit-collect"
MARKER_TEXT = "This folder holds traces written by `tracekit collect`.\n"
WORKER_RESULT = "worker_result.json"
OUTPUT_SUFFIXES = (".pt.trace.json.gz", ".log", ".nsys-rep", ".sqlite", ".done")
_HINT = (
    "Give --out a new folder (tracekit creates it), an empty one, or the folder of an "
    "earlier `tracekit collect` run; collect never deletes files it did not write."
)


def check_out(out: Path) -> Manifest | None:
    """Refuse an ``out`` collect may not write into; the earlier run's manifest, if any."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: --out is a file, not a folder", _HINT)
    if not out.exists():
        return None
    try:
        entries = sorted(p.name for p in out.iterdir() if p.name != MARKER)
    except OSError as exc:
        raise InputError(f"{out}: cannot list --out ({exc.strerror})", _HINT) from exc
    previous = _earlier_manifest(out)
    if entries and previous is None and not (out / MARKER).is_file():
        shown = ", ".join(entries[:5]) + (", …" if len(entries) > 5 else "")
        raise InputError(
            f"{out}: --out holds files tracekit did not write ({shown}); collect writes only "
            "into a new or empty folder or one of its own",
            _HINT,
        )
    return previous


def claim_out(
    out: Path, own_ranks: Sequence[int], *, writes_manifest: bool, world_size: int | None
) -> None:
    """Make ``out`` tracekit's and clear what an earlier collection left there.

    Removed: the ``rank<r>.*`` outputs of ``own_ranks`` (this process writes them again)
    and, by the process that writes the manifest, manifest.json, the workers' result
    file and the files the earlier manifest lists for ranks beyond ``world_size`` (all
    of its files when the ranks are not known). Nothing else is touched.
    """
    previous = check_out(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text(MARKER_TEXT)
    except OSError as exc:
        raise TracekitError(f"{out}: cannot write into --out ({exc.strerror})", _HINT) from exc
    stale = [out / f"rank{r}{suffix}" for r in own_ranks for suffix in OUTPUT_SUFFIXES]
    if writes_manifest:
        stale += [out / MANIFEST_NAME, out / WORKER_RESULT]
        for row in previous.ranks if previous is not None else ():
            if world_size is None or row.rank >= world_size:
                stale += [out / name for name in row.files()]
    for path in stale:
        if path.is_file():
            path.unlink()


def _earlier_manifest(out: Path) -> Manifest | None:
    path = out / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        return Manifest.read(path)
    except InputError:
        return None
