"""Start rank processes, watch them, and stop all of them if one fails.

Each rank runs in its own session (its own process group), so stopping a
rank also stops what it started (``nsys``, its target, gloo helpers): no
orphans survive a failure, a timeout or Ctrl-C.
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

FAILURE_MARK = "tracekit-worker: rank {rank} failed at {time:.6f}"
"""The line a worker prints when it raises; the earliest one names the cause."""
_FAILURE_RE = re.compile(r"tracekit-worker: rank (\d+) failed at ([0-9.]+)")


@dataclass(frozen=True)
class RankCommand:
    rank: int
    argv: tuple[str, ...]
    env: Mapping[str, str]
    log: Path


@dataclass(frozen=True)
class Failure:
    rank: int
    log: Path
    reason: str
    still_running: tuple[int, ...] = ()

    def message(self) -> str:
        if len(self.still_running) > 1:
            logs = ", ".join(
                f"rank {r} ({self.log.parent / f'rank{r}.log'})" for r in self.still_running
            )
            return f"{self.reason}; still running: {logs}"
        return f"rank {self.rank} {self.reason}; see its log {self.log}"


class RankGroup:
    """The running rank processes of one collection."""

    def __init__(self, commands: Sequence[RankCommand], base_env: Mapping[str, str]) -> None:
        self.commands = list(commands)
        self.procs: list[subprocess.Popen] = []
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
                codes = [p.poll() for p in self.procs]
                failed = [i for i, c in enumerate(codes) if c not in (None, 0)]
                if failed:
                    return self._failed(failed[0], codes[failed[0]])
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

    def _failed(self, index: int, code: int) -> Failure:
        """Let the other ranks notice and fail too, then name the one that failed first."""
        grace = time.monotonic() + 2.0
        while time.monotonic() < grace and any(p.poll() is None for p in self.procs):
            time.sleep(0.05)
        self.stop()
        cause = self.commands[index]
        earliest = None
        for cmd in self.commands:
            stamp = _failure_time(cmd.log)
            if stamp is not None and (earliest is None or stamp < earliest[0]):
                earliest = (stamp, cmd)
        if earliest is not None:
            cause = earliest[1]
            code = self.procs[self.commands.index(cause)].returncode
        return Failure(rank=cause.rank, log=cause.log, reason=f"failed (exit code {code})")

    def stop(self, grace_s: float = 3.0) -> None:
        """SIGTERM every rank's process group, then SIGKILL what is left."""
        for proc in self.procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


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
