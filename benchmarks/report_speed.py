"""Report and TUI speed on one trace: import time, `tracekit report` time, and the first
visit of every TUI screen (issue 17: report within twice the import, each screen < 1 s).

    python benchmarks/report_speed.py [TRACE ...] [--rank-map MAP] [--repeat 3]

Without TRACE it measures ``../shared/traces/nsys/mfu_2gpu_before.sqlite`` (4,010 kernels,
19,118 NVTX ranges) with its rank map. Import and report run as the CLI in child processes
(interpreter start included), each ``--repeat`` times on a new database; the TUI runs
in-process under Textual's Pilot in a new app per repeat: the time from a screen's key
(``d`` on Overlap: by layer, stage, phase) until its queries have finished and the screen
shows their rows; the Runs screen, first shown, twice: until its rows show, and until the
comparison it computes in the background has filled its columns. Each figure is the
median; CPU seconds are user + system of the child (the TUI's of this process). Prints the
load average, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

DEFAULT = HERE.parent.parent / "shared" / "traces" / "nsys" / "mfu_2gpu_before.sqlite"
DEFAULT_MAP = "mfu_2gpu_before.sqlite:144=0,145=1"
CLI = "from tracekit.cli import main; main()"
# (key, screen) in the order a user meets them; Runs is the first screen shown
VISITS = [("2", "Ranks"), ("3", "Collectives"), ("4", "Overlap by layer"),
          ("d", "Overlap by stage"), ("d", "Overlap by phase"), ("5", "Instances"),
          ("6", "Timeline"), ("7", "SQL")]  # fmt: skip


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed_cli(*args: str) -> tuple[float, float]:
    """Wall and CPU seconds of one `tracekit ARGS` in a child process (output discarded)."""
    cpu, start = _children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-c", CLI, *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, _children_cpu() - cpu


async def _tui_visits(db: Path) -> list[tuple[str, float, float]]:
    from tracekit.tui.app import TracekitApp

    async def settle(pilot) -> None:  # every query worker done, its rows on the screen
        for _ in range(3):
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    found = []
    cpu, start = _self_cpu(), time.perf_counter()
    app = TracekitApp.open(db)
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.screen.query("#runs") or not app.screen.query_one("#runs").row_count:
            await pilot.pause(0.01)
        found.append(("Runs (rows shown)", time.perf_counter() - start, _self_cpu() - cpu))
        await settle(pilot)  # the Runs screen's background comparison columns
        found.append(("Runs (all columns)", time.perf_counter() - start, _self_cpu() - cpu))
        for key, screen in VISITS:
            cpu, start = _self_cpu(), time.perf_counter()
            await pilot.press(key)
            await settle(pilot)
            found.append((screen, time.perf_counter() - start, _self_cpu() - cpu))
    return found


def measure(trace: Path, rank_map: str | None, repeat: int, work: Path) -> None:
    imports, reports, visits = [], [], []
    for i in range(repeat):
        db = work / f"r{i}.duckdb"
        db.unlink(missing_ok=True)
        extra = ["--rank-map", rank_map] if rank_map else []
        imports.append(timed_cli("import", str(trace), "--db", str(db), *extra))
        reports.append(timed_cli("report", "--db", str(db)))
        visits.append(asyncio.run(_tui_visits(db)))

    def med(pairs: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)

    imp, rep = med(imports), med(reports)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{trace.name}: median of {repeat}, load average {load}")
    print(f"  import                 {imp[0]:6.2f} s wall  {imp[1]:6.2f} s CPU")
    print(f"  report                 {rep[0]:6.2f} s wall  {rep[1]:6.2f} s CPU"
          f"  = {rep[0] / imp[0]:.2f} x import (target <= 2)")  # fmt: skip
    for n, (screen, _, _) in enumerate(visits[0]):
        wall, cpu = med([(v[n][1], v[n][2]) for v in visits])
        print(f"  TUI {screen:18s} {wall:6.2f} s wall  {cpu:6.2f} s CPU  (target < 1 s)")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("traces", nargs="*", type=Path)
    p.add_argument("--rank-map", help="as `tracekit import --rank-map` (for the default trace: "
                   f"{DEFAULT_MAP})")  # fmt: skip
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    traces = args.traces or [DEFAULT]
    rank_map = args.rank_map or (DEFAULT_MAP if not args.traces else None)
    with tempfile.TemporaryDirectory(prefix="tracekit-speed-") as work:
        for trace in traces:
            measure(trace, rank_map, args.repeat, Path(work))


if __name__ == "__main__":
    main()
