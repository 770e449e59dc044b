"""Start rank processes, watch them, and stop all of them if one fails.

Each rank runs in its own session (its own process group), so stopping a
rank also stops what it started (``nsys``, its target, gloo helpers): no
orphans survive a failure, a timeout or Ctrl-C. A report writer (``nsys``)
in a rank's process tree is stopped last: its app first, then the writer
gets time to write its report (``report_grace_s``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

FAILURE_MARK = "tracekit-worker: rank {rank} failed at {time:.6f}"
"""The line a worker prints when it raises; the earliest one names the cause."""
_FAILURE_RE = re.compile(r"tracekit-worker: rank (\d+) failed at ([0-9.]+)")

REPORT_WRITERS = frozenset({"nsys"})
"""Process names that write a report once the app they launched has exited (helpers
named ``<writer>-…``, such as a launcher process, count as the writer's)."""
REPORT_GRACE_S = 30.0
"""Default time a report writer gets, after its app is stopped, to write its report."""


@dataclass(frozen=True)
class RankCommand:
    rank: int
    argv: tuple[str, ...]
    env: Mapping[str, str]
    log: Path


@dataclass(frozen=True)
class Failure:
    """Why a collection stopped: the rank to blame, and what the other failed ranks did."""

    rank: int
    log: Path
    reason: str
    still_running: tuple[int, ...] = ()
    followers: tuple[str, ...] = ()
    """'rank 0 failed (exit code 1)' for each rank that failed after ``rank``."""

    def message(self) -> str:
        if len(self.still_running) > 1:
            logs = ", ".join(
                f"rank {r} ({self.log.parent / f'rank{r}.log'})" for r in self.still_running
            )
            return f"{self.reason}; still running: {logs}"
        after = f"; after it, {', '.join(self.followers)}" if self.followers else ""
        return f"rank {self.rank} {self.reason}; see its log {self.log}{after}"


class RankGroup:
    """The running rank processes of one collection."""

    def __init__(
        self,
        commands: Sequence[RankCommand],
        base_env: Mapping[str, str],
        *,
        report_grace_s: float = REPORT_GRACE_S,
    ) -> None:
        self.commands = list(commands)
        self.report_grace_s = report_grace_s
        self.procs: list[subprocess.Popen] = []
        self.ended_at: dict[int, float] = {}
        """index -> when this rank's exit was first seen (time.time, as the failure line)."""
        for cmd in self.commands:
            cmd.log.parent.mkdir(parents=True, exist_ok=True)
            with cmd.log.open("wb") as log:
                proc = subprocess.Popen(
                    list(cmd.argv),
                    env={**base_env, **cmd.env},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.procs.append(proc)

    def wait(self, timeout_s: float | None, poll_s: float = 0.05) -> Failure | None:
        """Wait for every rank; on the first failure or the timeout, stop all.

        SIGTERM (a scheduler cancelling the job) is turned into KeyboardInterrupt
        meanwhile, so the ranks are stopped rather than orphaned."""
        with _terminate_interrupts():
            return self._wait(timeout_s, poll_s)

    def _wait(self, timeout_s: float | None, poll_s: float) -> Failure | None:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            while True:
                codes = self._poll()
                if any(c not in (None, 0) for c in codes):
                    return self._failed()
                if all(c == 0 for c in codes):
                    return None
                if deadline is not None and time.monotonic() > deadline:
                    running = [i for i, c in enumerate(codes) if c is None]
                    self.stop()
                    first = self.commands[running[0]]
                    return Failure(
                        rank=first.rank,
                        log=first.log,
                        reason=f"did not finish within {timeout_s:g} s (timeout)",
                        still_running=tuple(self.commands[i].rank for i in running),
                    )
                time.sleep(poll_s)
        except BaseException:
            self.stop()
            raise

    def _poll(self) -> list[int | None]:
        codes = [p.poll() for p in self.procs]
        now = time.time()
        for i, code in enumerate(codes):
            if code is not None:
                self.ended_at.setdefault(i, now)
        return codes

    def _failed(self) -> Failure:
        """Let the other ranks notice and fail too, then blame the rank that failed first.

        A rank failed if it ended non-zero, or printed the worker's failure line, before
        tracekit stopped the rest. One that ended without that line died from outside
        Python (SIGKILL from the OOM killer, a crash in native code): its peers fail only
        because it is gone, so it is the cause. Otherwise the earliest line names it.
        """
        grace = time.monotonic() + 2.0
        while time.monotonic() < grace and None in self._poll():
            time.sleep(0.05)
        codes = {i: c for i, c in enumerate(self._poll()) if c is not None}
        self.stop()
        marks = {i: _failure_time(cmd.log) for i, cmd in enumerate(self.commands)}
        failed = {i for i, c in codes.items() if c != 0} | {i for i, t in marks.items() if t}
        at = {i: marks[i] or self.ended_at[i] for i in failed}
        silent = [i for i in failed if marks[i] is None]
        cause = min(silent or failed, key=at.__getitem__)

        def reason(i: int) -> str:
            return _exit_reason(codes[i]) if i in codes else "failed (stopped while exiting)"

        followers = tuple(
            f"rank {self.commands[i].rank} {reason(i)}"
            for i in sorted(failed - {cause}, key=at.__getitem__)
        )
        command = self.commands[cause]
        return Failure(command.rank, command.log, reason(cause), followers=followers)

    def stop(self, grace_s: float = 3.0) -> None:
        """Stop every rank, keeping the reports of any report writer (nsys).

        A rank without a writer: SIGTERM to its process group, SIGKILL after
        ``grace_s``. A rank with one: SIGTERM to the apps the writer launched
        (SIGKILL after ``grace_s``), then up to ``report_grace_s`` for the writer
        to write its report and exit, and only then SIGKILL to the group."""
        apps: list[psutil.Process] = []
        deadline: dict[int, float] = {}
        now = time.monotonic()
        for i, proc in enumerate(self.procs):
            launched = _apps_of_writers(proc.pid)
            if launched is None:
                _signal_group(proc, signal.SIGTERM)
                deadline[i] = now + grace_s
            else:
                apps += launched
                deadline[i] = now + max(self.report_grace_s, grace_s)
        _signal_each(apps, signal.SIGTERM)
        _, alive = psutil.wait_procs(apps, timeout=grace_s)
        _signal_each(alive, signal.SIGKILL)
        for i, proc in enumerate(self.procs):
            try:
                proc.wait(timeout=max(deadline[i] - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _apps_of_writers(pid: int) -> list[psutil.Process] | None:
    """The processes report writers under ``pid`` (itself included) launched, or
    None when there is no writer in its tree."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
        writers = [p for p in tree if _is_writer(p)]
        if not writers:
            return None
        return [c for w in writers for c in w.children() if not _is_writer(c)]
    except psutil.Error:
        return None


def _is_writer(proc: psutil.Process) -> bool:
    try:
        return proc.name().split("-")[0] in REPORT_WRITERS
    except psutil.Error:
        return False


def _signal_each(procs: Sequence[psutil.Process], sig: signal.Signals) -> None:
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass


@contextmanager
def _terminate_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _exit_reason(code: int) -> str:
    """'failed (exit code 1)' or, for a negative Popen return code, the signal that killed it."""
    if code >= 0:
        return f"failed (exit code {code})"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = "an unknown signal"
    return f"was killed by {name} (signal {-code})"


def _failure_time(log: Path) -> float | None:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    match = _FAILURE_RE.search(text)
    return float(match.group(2)) if match else None


def log_tail(log: Path, lines: int = 12) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
