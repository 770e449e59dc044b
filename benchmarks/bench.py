"""tracekit vs Holistic Trace Analysis: wall time and peak RSS on the same traces.

One run times, for each input folder (one job: one trace per rank),

- tracekit: ``import`` into a fresh DuckDB file + ``SELECT * FROM overlap_by_rank``
  (benchmarks/tk_runner.py, in a child process);
- HTA: ``TraceAnalysis(trace_dir)`` + ``get_comm_comp_overlap()``
  (benchmarks/hta_runner.py, run by HTA's own Python in a child process),

and prints, per input, each tool's wall time, CPU time (user + system of the whole
process tree) and peak RSS with the ratio HTA ÷ tracekit of each, the load average
when the input was measured, then the ratio of in-process times (load + analysis,
without interpreter start and imports), and the wall time of a later tracekit session
on the same job (open the database, overlap_by_rank) against HTA, which parses the
traces again.
Peak RSS is that of the whole process tree (HTA parses ranks in a process pool),
polled from /proc every 20 ms, and at least the child's own ru_maxrss.

Inputs: the real traces (``../shared/traces/kineto``, each sub-folder a job) and
synthetic jobs made by benchmarks/synth.py (``--synth RANKSxMB``, e.g. ``2x100``,
``1x1000``; ``gz`` suffix for .json.gz). Usage::

    python benchmarks/bench.py --hta-python /work/hta-venv/bin/python \\
        --synth 2x100 --synth 1x1000 --synth 2x100gz

Without ``--hta-python`` (or $HTA_PYTHON) the HTA columns are skipped with a note.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import synth  # noqa: E402


@dataclass
class Measure:
    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    out: dict | None
    error: str | None = None


def _tree_rss_kb(root: int) -> int:
    """Sum of VmRSS of ``root`` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as fh:
                ppid, vm = 0, 0
                for line in fh:
                    if line.startswith("PPid:"):
                        ppid = int(line.split()[1])
                    elif line.startswith("VmRSS:"):
                        vm = int(line.split()[1])
        except OSError:
            continue
        pid = int(entry.name)
        rss[pid] = vm
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def measure(cmd: list[str], timeout: float) -> Measure:
    """Run ``cmd``; wall time, peak RSS of its process tree, CPU time, parsed JSON stdout."""
    out_file = tempfile.TemporaryFile()
    err_file = tempfile.TemporaryFile()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out_file, stderr=err_file, cwd=REPO)
    peak = 0
    status, usage = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _tree_rss_kb(proc.pid))
        if time.perf_counter() - start > timeout:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = max(peak, usage.ru_maxrss if usage else 0)
    cpu = (usage.ru_utime + usage.ru_stime) if usage else 0.0
    out_file.seek(0)
    err_file.seek(0)
    text = out_file.read().decode(errors="replace").strip().splitlines()
    error = None
    parsed = None
    if proc.returncode != 0:
        tail = err_file.read().decode(errors="replace").strip().splitlines()[-3:]
        error = f"exit {proc.returncode}: " + " | ".join(tail)
        if wall >= timeout:
            error = f"timed out after {timeout:.0f} s"
    else:
        try:
            parsed = json.loads(text[-1])
        except (IndexError, json.JSONDecodeError):
            error = "no result line"
    return Measure(wall, peak / 1024, cpu, parsed, error)


def _size(folder: Path) -> tuple[int, int, int]:
    """(bytes on disk, uncompressed bytes, number of trace files)."""
    disk = raw = n = 0
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or not path.name.endswith((".json", ".json.gz")):
            continue
        n += 1
        disk += path.stat().st_size
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                while block := fh.read(1 << 24):
                    raw += len(block)
        else:
            raw += path.stat().st_size
    return disk, raw, n


def _gz_size(folder: Path) -> int:
    """Bytes the traces take gzipped (level 6): measured when they are plain JSON."""
    total = 0
    for path in sorted(folder.rglob("*")):
        if path.name.endswith(".json.gz"):
            total += path.stat().st_size
        elif path.name.endswith(".json"):
            comp = __import__("zlib").compressobj(6, 8, 31)
            with path.open("rb") as fh:
                while block := fh.read(1 << 24):
                    total += len(comp.compress(block))
            total += len(comp.flush())
    return total


def _inputs(args: argparse.Namespace, work: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    real = Path(args.real)
    if real.is_dir() and not args.no_real:
        found += [(f"real/{d.name}", d) for d in sorted(real.iterdir()) if d.is_dir()]
    elif not args.no_real:
        print(f"note: no real traces at {real}; only synthetic inputs")
    for spec in args.synth:
        gz = spec.endswith("gz")
        ranks, mb = spec.removesuffix("gz").split("x")
        folder = work / f"synth_{spec}"
        if not folder.is_dir():
            print(f"generating {spec} ...", flush=True)
            synth.generate(folder, ranks=int(ranks), layers=32, size_mb=float(mb), gz=gz)
        found.append((f"synth {ranks} rank x {mb} MB{' gz' if gz else ''}", folder))
    return found


def _fmt_s(m: Measure | None) -> str:
    if m is None:
        return "-"
    return m.error or f"{m.wall_s:.2f} s"


def _fmt_mb(m: Measure | None) -> str:
    return "-" if m is None or m.error else f"{m.peak_rss_mb:,.0f} MB"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--hta-python",
        default=os.environ.get("HTA_PYTHON"),
        help="Python of a venv with holistictraceanalysis (default $HTA_PYTHON)",
    )
    p.add_argument("--real", default=str(REPO.parent / "shared" / "traces" / "kineto"))
    p.add_argument("--no-real", action="store_true", help="skip the real traces")
    p.add_argument(
        "--synth",
        action="append",
        default=[],
        help="synthetic job RANKSxMB[gz] (MB of JSON per rank); repeatable",
    )
    p.add_argument("--work", type=Path, help="folder for synthetic traces and databases")
    p.add_argument(
        "--hta-max-mb",
        type=float,
        default=2500,
        help="skip HTA on inputs larger than this (uncompressed MB)",
    )
    p.add_argument("--timeout", type=float, default=1800, help="per-run limit, seconds")
    p.add_argument("--repeat", type=int, default=1, help="runs per tool; the best is kept")
    p.add_argument("--json", type=Path, help="also write all measurements here")
    args = p.parse_args(argv)

    hta = args.hta_python
    if hta and not Path(hta).exists():
        print(f"note: --hta-python {hta} does not exist; HTA columns skipped")
        hta = None
    if not hta:
        print("note: HTA not found (pass --hta-python or set $HTA_PYTHON); HTA columns skipped")
    work = args.work or Path(tempfile.mkdtemp(prefix="tracekit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM; "
        f"load average {os.getloadavg()[0]:.1f}; work folder {work}"
    )

    results = []
    for label, folder in _inputs(args, work):
        disk, raw, n = _size(folder)
        db = work / "bench.duckdb"
        tk_cmd = [sys.executable, str(HERE / "tk_runner.py"), str(folder), str(db)]
        load = os.getloadavg()[0]
        tk = min(
            (measure(tk_cmd, args.timeout) for _ in range(args.repeat)),
            key=lambda m: (m.error is not None, m.wall_s),
        )
        gz = _gz_size(folder)
        db_bytes = tk.out["db_bytes"] if tk.out else None
        again = None
        if tk.out:
            again = min(
                (measure([*tk_cmd, "--reopen"], args.timeout) for _ in range(args.repeat)),
                key=lambda m: (m.error is not None, m.wall_s),
            )
        ht = None
        if hta and raw / 1e6 <= args.hta_max_mb:
            hta_cmd = [hta, str(HERE / "hta_runner.py"), str(folder)]
            ht = min(
                (measure(hta_cmd, args.timeout) for _ in range(args.repeat)),
                key=lambda m: (m.error is not None, m.wall_s),
            )
        row = {
            "input": label,
            "load": load,
            "files": n,
            "disk_mb": disk / 1e6,
            "json_mb": raw / 1e6,
            "gz_mb": gz / 1e6,
            "db_mb": db_bytes / 1e6 if db_bytes else None,
            "tk_wall_s": tk.wall_s,
            "tk_cpu_s": tk.cpu_s,
            "tk_rss_mb": tk.peak_rss_mb,
            "tk_error": tk.error,
            "tk": tk.out,
            "tk_mb_per_s": raw / 1e6 / tk.out["import_s"] if tk.out else None,
            "tk_reopen_wall_s": again.wall_s if again and not again.error else None,
            "hta_wall_s": ht.wall_s if ht else None,
            "hta_cpu_s": ht.cpu_s if ht else None,
            "hta_rss_mb": ht.peak_rss_mb if ht else None,
            "hta_error": ht.error if ht else ("skipped" if hta else "not found"),
            "hta": ht.out if ht else None,
        }
        if ht and not ht.error and not tk.error:
            row["ratio"] = ht.wall_s / tk.wall_s
            row["cpu_ratio"] = ht.cpu_s / tk.cpu_s
            row["rss_ratio"] = ht.peak_rss_mb / tk.peak_rss_mb
            # the same work without interpreter start and library imports
            row["tk_work_s"] = tk.out["import_s"] + tk.out["overlap_s"]
            row["hta_work_s"] = ht.out["load_s"] + ht.out["overlap_s"]
            row["work_ratio"] = row["hta_work_s"] / row["tk_work_s"]
            if row["tk_reopen_wall_s"]:
                row["reopen_ratio"] = ht.wall_s / row["tk_reopen_wall_s"]
        results.append(row)
        _print_row(row)
        db.unlink(missing_ok=True)
    _print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


def _print_row(r: dict) -> None:
    print(
        f"  {r['input']} (load {r['load']:.1f}): tracekit {r['tk_wall_s']:.2f} s "
        f"({r['tk_cpu_s']:.2f} s CPU, {r['tk_rss_mb']:,.0f} MB), HTA "
        + (
            f"{r['hta_wall_s']:.2f} s ({r['hta_cpu_s']:.2f} s CPU, {r['hta_rss_mb']:,.0f} MB)"
            if r["hta_wall_s"] is not None and not r["hta_error"]
            else str(r["hta_error"])
        ),
        flush=True,
    )


def _print_table(results: list[dict]) -> None:
    head = (
        "input",
        "load",
        "files",
        "JSON MB",
        "gz MB",
        "DB MB",
        "tracekit wall",
        "tracekit CPU",
        "tracekit RSS",
        "import MB/s",
        "HTA wall",
        "HTA CPU",
        "HTA RSS",
        "HTA/tracekit wall, CPU, RSS",
        "in-process HTA/tracekit",
        "next session: tracekit re-open + overlap (HTA/tracekit)",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        ok = not r["tk_error"]
        hta_ok = r["hta_wall_s"] is not None and not r["hta_error"]
        cells = [
            r["input"],
            f"{r['load']:.1f}",
            str(r["files"]),
            f"{r['json_mb']:,.1f}",
            f"{r['gz_mb']:,.1f}",
            f"{r['db_mb']:,.1f}" if r["db_mb"] else "-",
            f"{r['tk_wall_s']:.2f} s" if ok else str(r["tk_error"]),
            f"{r['tk_cpu_s']:.2f} s" if ok else "-",
            f"{r['tk_rss_mb']:,.0f} MB" if ok else "-",
            f"{r['tk_mb_per_s']:,.0f}" if r["tk_mb_per_s"] else "-",
            f"{r['hta_wall_s']:.2f} s" if hta_ok else str(r["hta_error"]),
            f"{r['hta_cpu_s']:.2f} s" if hta_ok else "-",
            f"{r['hta_rss_mb']:,.0f} MB" if hta_ok else "-",
            (
                f"{r['ratio']:.1f}x, {r['cpu_ratio']:.1f}x, {r['rss_ratio']:.2f}x"
                if "ratio" in r
                else "-"
            ),
            (
                f"{r['hta_work_s']:.2f} / {r['tk_work_s']:.2f} s = {r['work_ratio']:.1f}x"
                if "work_ratio" in r
                else "-"
            ),
            (
                f"{r['tk_reopen_wall_s']:.2f} s ({r['reopen_ratio']:.1f}x)"
                if "reopen_ratio" in r
                else "-"
            ),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
