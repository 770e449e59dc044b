"""The bad-input suite's shared checks: how tracekit must fail on input a user got wrong.

Every bad input gives exit status 2, one paragraph on stderr naming the file
and what to do, no traceback (``--debug`` prints one and the status stays 2),
and leaves the database byte-identical (a new path: no file at all).
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

TRACEKIT = [sys.executable, "-c", "from tracekit.cli import main; main()"]


def tk(
    *args: str | Path,
    stdin: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: int = 120,
) -> subprocess.CompletedProcess:
    """Run the CLI as a user does: a real process, text output, wide enough not to wrap."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [*TRACEKIT, *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=full_env,
    )


def digest(path: Path) -> str | None:
    """sha256 of a file, or None where there is no file (a failed import must leave none)."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def assert_clean_failure(proc: subprocess.CompletedProcess, *names: str) -> None:
    """Exit 2, no traceback, one paragraph on stderr that names each of ``names``."""
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert err, "no message on stderr"
    assert "\n\n" not in err, f"more than one paragraph:\n{err}"
    for name in names:
        assert name in " ".join(err.split()), f"{name!r} not named in:\n{err}"


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    """Run the CLI in this process as `tracekit ARGS...`: exit status, stdout, stderr.

    Cheaper than ``tk`` (no interpreter start): for cases whose subprocess path is
    covered once elsewhere.
    """
    from tracekit.cli import main

    argv, handler = sys.argv, signal.getsignal(signal.SIGTERM)
    run = sys.argv = ["tracekit", *map(str, args)]
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = argv
        signal.signal(signal.SIGTERM, handler)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(run, status, out.getvalue(), err.getvalue())
