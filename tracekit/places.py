"""Where tracekit keeps files of its own: the cache and the scratch area.

- The **cache** (``$XDG_CACHE_HOME/tracekit``, default ``~/.cache/tracekit``)
  holds what can be rebuilt and is worth keeping: the empty-store template,
  Nsight Systems exports of ``.nsys-rep`` reports.
- The **scratch area** (``$TMPDIR/tracekit-<uid>/<pid>/``, one folder per
  process) holds what lives only as long as one command: the Kineto parsers'
  chunk files, DuckDB's spill files. It also records the staging file of a
  database being created (``.NAME.tracekit-<pid>.tmp`` beside it, renamed into
  place when the import commits). A process that is killed cannot clean up:
  the next tracekit command removes the folders of processes that no longer
  run, and the staging files they recorded.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from pathlib import Path

STAGING = "staging"  # in a process's scratch folder: paths to remove if it dies, one a line

_mine: Path | None = None


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tracekit"


def scratch_root() -> Path:
    return Path(tempfile.gettempdir()) / f"tracekit-{os.getuid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _private(root: Path) -> bool:
    """``root`` is a real folder of this user that nobody else can write into.

    In a shared temp folder another user could have made it first, to have
    tracekit delete what its records name.
    """
    try:
        info = os.lstat(root)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def _ours(path: Path) -> bool:
    """What a record may name: tracekit's staging files and folders, nsys exports in the cache."""
    return ".tracekit-" in path.name or path.parent == cache_dir() / "nsys"


def sweep() -> None:
    """Remove the scratch folders of dead processes and what they recorded to remove."""
    root = scratch_root()
    if not _private(root):
        return
    for folder in root.iterdir():
        if not folder.name.isdigit() or int(folder.name) == os.getpid():
            continue
        if _alive(int(folder.name)):
            continue
        staging = folder / STAGING
        if staging.is_file():
            for line in staging.read_bytes().splitlines():
                left = Path(os.fsdecode(line))
                if not _ours(left):
                    continue
                if left.is_dir():
                    shutil.rmtree(left, ignore_errors=True)
                else:
                    left.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def scratch_dir() -> Path:
    """This process's scratch folder, created (and stale ones swept) on first use.

    Removed when the process exits normally.
    """
    global _mine
    if _mine is None or not _mine.is_dir():
        root = scratch_root()
        root.mkdir(mode=0o700, exist_ok=True)
        if _private(root):
            sweep()
            _mine = root / str(os.getpid())
            _mine.mkdir(mode=0o700, exist_ok=True)
        else:  # someone else's: a private folder of our own, not swept after a kill
            _mine = Path(tempfile.mkdtemp(prefix=f"tracekit-{os.getuid()}-"))
        atexit.register(shutil.rmtree, _mine, True)
    return _mine


def remove_if_killed(path: Path) -> Path:
    """Record ``path`` (a file or folder this process is building outside the scratch area)
    so that the next tracekit process removes it if this one dies before it does."""
    with (scratch_dir() / STAGING).open("ab") as fh:
        fh.write(os.fsencode(path.absolute()) + b"\n")
    return path


def staging_path(target: Path) -> Path:
    """A path beside ``target`` to build it in (see ``remove_if_killed``)."""
    return remove_if_killed(target.with_name(f".{target.name}.tracekit-{os.getpid()}.tmp"))
