"""nsys import rate: kernel rows per second on a synthetic nsys SQLite export.

    python benchmarks/nsys_bench.py [--size-mb 200] [--work DIR]

``--size-mb`` is the size of the equivalent Kineto JSON (the nsys file is about
half of it). Needs the nsys reader (tracekit/ingest/nsys.py); without it, this
prints a note and exits 0.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import synth  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mb", type=float, default=200)
    p.add_argument("--work", type=Path)
    args = p.parse_args()
    if not (HERE.parent / "tracekit" / "ingest" / "nsys.py").exists():
        print("note: tracekit/ingest/nsys.py is not in this tree; nsys import rate pending")
        return
    from tracekit.ingest.loader import import_paths

    work = args.work or Path(tempfile.mkdtemp(prefix="tracekit-nsys-"))
    folder = work / f"nsys_{args.size_mb:g}"
    if not folder.is_dir():
        synth.generate(folder, ranks=1, layers=32, size_mb=args.size_mb, fmt="nsys")
    ((path, _),) = [(f, None) for f in folder.glob("*.sqlite")]
    db = work / "nsys.duckdb"
    db.unlink(missing_ok=True)
    start = time.perf_counter()
    summary = import_paths(db, [folder])
    wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{path.name}: {path.stat().st_size / 1e6:.0f} MB, {summary.kernels:,} kernels, "
        f"{summary.events:,} events in {wall:.2f} s = {summary.kernels / wall:,.0f} kernel "
        f"rows/s, peak RSS {rss:,.0f} MB"
    )


if __name__ == "__main__":
    main()
