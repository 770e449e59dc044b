"""tracekit at several git revisions, run alternately on the same traces: CPU and peak RSS.

On a shared machine wall times move with the load; comparing revisions in the same
minutes, run after run, and keeping each one's least CPU seconds says more. Each
revision is extracted (``git archive``) into a folder of its own and runs with a
cache folder of its own (``XDG_CACHE_HOME``): the empty-store template is kept for
one schema fingerprint only, so revisions sharing a cache rebuild it at every import
(about 1.2 CPU s). Each run is ``benchmarks/tk_runner.py`` (import into a new
database + ``overlap_by_rank``, the process bench.py times) of that revision::

    python benchmarks/compare_revs.py f0e4185 8091afa HEAD --repeat 5 \\
        --trace ../shared/traces/kineto/negative_queue_length_values_check

prints, per trace and revision, the least CPU seconds (user + system), the least
wall time and the largest peak RSS of the runs, and the load average.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def extract(rev: str, root: Path) -> Path:
    """The tree of ``rev`` in a folder under ``root``."""
    folder = root / rev.replace("/", "_")
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def run(tree: Path, trace: Path, work: Path) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one tk_runner process of ``tree`` (GNU time)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "XDG_CACHE_HOME": str(tree / ".cache")}
    runner = [sys.executable, str(tree / "benchmarks" / "tk_runner.py")]
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%e %U %S %M", *runner, str(trace), str(work / "x.duckdb")],
        check=True,
        capture_output=True,
        text=True,
        cwd=tree,
        env=env,
    )
    wall, user, system, rss_kb = out.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(system), int(rss_kb) / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("revs", nargs="+", help="git revisions (commits, branches, HEAD)")
    p.add_argument("--trace", action="append", type=Path, required=True, help="repeatable")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="tracekit-revs-") as tmp:
        root = Path(tmp)
        trees = [extract(rev, root) for rev in args.revs]
        for tree in trees:  # each revision's store template is built before timing
            run(tree, args.trace[0], root)
        for trace in args.trace:
            load = os.getloadavg()[0]
            got: dict[Path, list[tuple[float, float, float]]] = {tree: [] for tree in trees}
            for _ in range(args.repeat):
                for tree in trees:
                    got[tree].append(run(tree, trace, root))
            print(f"{trace.name} (load {load:.1f} -> {os.getloadavg()[0]:.1f})")
            for rev, tree in zip(args.revs, trees, strict=True):
                walls, cpus, peaks = zip(*got[tree], strict=True)
                print(
                    f"  {rev:>12}: CPU {min(cpus):.2f} s (least of {args.repeat}), "
                    f"wall {min(walls):.2f} s, peak RSS {max(peaks):,.0f} MB "
                    f"(runs: {', '.join(f'{x:.0f}' for x in peaks)})"
                )


if __name__ == "__main__":
    main()
