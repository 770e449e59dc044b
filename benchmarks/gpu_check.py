"""The GPU check (issue 14): collect TP1, TP2 and PP2 on one GPU host, import, check.

On a single-GPU host TP2 and PP2 run as two ranks on the same GPU: the worker
lets them share it (TRACEKIT_SHARE_GPUS=1) and gives each rank its own
NCCL_HOSTID, with NCCL_SOCKET_IFNAME=lo and NCCL_IB_DISABLE=1, which gets past
NCCL's duplicate-GPU check (timings meaningless, structure real). Each layout
runs under torch.profiler and, where nsys is found, under Nsight Systems too.
Then everything is imported into one database and these checks are printed:

- comm ops carry op, bytes and group (NCCL kernels; gloo ops in --cpu mode)
- every kernel (every gloo op in --cpu mode) has exactly one launch
- pipeline send/recv pairs are complete, with both ranks
- layer labels on the all-reduces: 2 per layer per step on every TP rank
- per-layer sums of communication time equal the per-rank totals
- nsys runs: message sizes decoded from the NCCL NVTX payloads

Run: python benchmarks/gpu_check.py --out /tmp/gpu_check          (a GPU host, < 8 min)
     python benchmarks/gpu_check.py --out /tmp/gpu_check --cpu    (the same on gloo)
     python benchmarks/gpu_check.py --out /tmp/gpu_check --dry-run
Exit status 0 when every check passes, 1 when one fails, 2 when a run cannot start.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from tracekit import analysis
from tracekit.collect.nsys_cmd import locate_nsys

TRACEKIT = [sys.executable, "-c", "from tracekit.cli import main; main()"]
LAYOUTS = {"tp1": (1, 1), "tp2": (2, 1), "pp2": (1, 2)}
WORKLOAD = ["--model", "tiny", "--batch", "2", "--prompt-len", "16", "--gen-len", "4"]
SHARED_GPU_ENV = {
    "TRACEKIT_SHARE_GPUS": "1",
    "NCCL_SOCKET_IFNAME": "lo",
    "NCCL_IB_DISABLE": "1",
}
P2P = ("send", "recv", "send_recv")
LAUNCHED = {  # what must have one launch each: kernels on GPUs, gloo ops on the CPU
    True: "SELECT e.trace_id, e.event_id FROM events e JOIN traces t USING (trace_id)"
    " WHERE t.run_id = ? AND e.kind = 'kernel'",
    False: "SELECT trace_id, event_id FROM comm_ops WHERE run_id = ?",
}


@dataclass(frozen=True)
class Run:
    name: str
    tp: int
    pp: int
    profiler: str

    def argv(self, out: Path, device: str) -> list[str]:
        folder = out / self.name
        layout = ["--tp", str(self.tp), "--pp", str(self.pp), "--profiler", self.profiler]
        return [*TRACEKIT, "collect", *layout, *WORKLOAD, "--device", device, "--out", str(folder)]


@dataclass(frozen=True)
class Check:
    run: str
    name: str
    ok: bool
    detail: str


def plan(cpu: bool, nsys: bool) -> list[Run]:
    runs = [Run(name, tp, pp, "torch") for name, (tp, pp) in LAYOUTS.items()]
    if nsys and not cpu:
        runs += [Run(f"{name}-nsys", tp, pp, "nsys") for name, (tp, pp) in LAYOUTS.items()]
    return runs


def one(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> tuple:
    return con.execute(sql, list(params)).fetchall()[0]


def check_run(con: duckdb.DuckDBPyConnection, run: Run, run_id: str, gpu: bool) -> list[Check]:
    checks = []
    device_kind = "kernel" if gpu else "user_annotation"
    total, bare = one(
        con,
        "SELECT count(*), count(*) FILTER (op IS NULL OR msg_bytes IS NULL OR (pg_name IS NULL"
        " AND group_size IS NULL AND NOT (library = 'gloo' AND op IN ('send', 'recv'))))"
        " FROM comm_ops WHERE run_id = ? AND kind = ? AND op <> 'barrier'",
        run_id,
        device_kind,
    )
    expect_comm = run.tp * run.pp > 1
    checks.append(
        Check(
            run_id,
            "comm ops carry op, bytes and group",
            bare == 0 and (total > 0) == expect_comm,
            f"{total} ops, {bare} without op, bytes or group",
        )
    )
    total, wrong = one(
        con,
        "SELECT count(*), count(*) FILTER (n <> 1) FROM (SELECT x.trace_id, x.event_id,"
        " count(l.launch_event_id) AS n FROM (" + LAUNCHED[gpu] + ") x"
        " LEFT JOIN event_launches l USING (trace_id, event_id) GROUP BY ALL)",
        run_id,
    )
    what = "kernels" if gpu else "gloo ops"
    checks.append(
        Check(
            run_id,
            f"every {what.rstrip('s')} has one launch",
            wrong == 0 and (total > 0 or not expect_comm),
            f"{total} {what}, {wrong} not launched exactly once",
        )
    )
    if run.pp > 1:
        pairs = analysis.collective_instances(con, run=run_id).frame.filter(pl.col("op").is_in(P2P))
        broken = pairs.filter(~pl.col("complete") | (pl.col("ranks_seen") != 2)).height
        checks.append(
            Check(
                run_id,
                "pipeline pairs complete",
                pairs.height > 0 and broken == 0,
                f"{pairs.height} send/recv instances, {broken} incomplete",
            )
        )
    if run.tp > 1:
        layers, steps = 4, 4  # the tiny preset, --gen-len 4
        per_rank = con.execute(
            "SELECT rank, count(*) FILTER (layer IS NOT NULL) FROM comm_op_list"
            " WHERE run_id = ? AND op = 'all_reduce' GROUP BY rank ORDER BY rank",
            [run_id],
        ).fetchall()
        expected = 2 * (layers // run.pp) * steps
        checks.append(
            Check(
                run_id,
                "layer labels on all-reduces",
                len(per_rank) == run.tp * run.pp and all(n == expected for _, n in per_rank),
                f"per rank {[n for _, n in per_rank]}, expected {expected} each",
            )
        )
    cols = ["comm_ns", "compute_ns", "overlap_ns", "exposed_comm_ns"]
    ranks = analysis.overlap(con, by="rank", run=run_id).frame.sort("rank", "lane")
    layered = (
        analysis.overlap(con, by="layer", run=run_id)
        .frame.group_by("rank", "lane")
        .agg(pl.col(c).sum() for c in cols)
        .sort("rank", "lane")
    )
    same = ranks.select("rank", "lane", *cols).to_dicts() == layered.to_dicts()
    checks.append(
        Check(run_id, "per-layer sums equal per-rank", same, f"{ranks.height} rank lanes")
    )
    return checks


def collect_all(runs: list[Run], out: Path, gpu: bool, dry_run: bool) -> list[Run]:
    env = {**os.environ, **(SHARED_GPU_ENV if gpu else {})}
    done = []
    for run in runs:
        argv = run.argv(out, "cuda" if gpu else "cpu")
        if dry_run:
            shown = " ".join(f"{k}={v}" for k, v in SHARED_GPU_ENV.items()) + " " if gpu else ""
            print(shown + shlex.join(argv[3:]).replace("collect", "tracekit collect", 1))
            continue
        started = time.monotonic()
        proc = subprocess.run([*argv, "--timeout", "240"], env=env, capture_output=True, text=True)
        took = time.monotonic() - started
        print(f"{run.name}: exit {proc.returncode} in {took:.1f} s", flush=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(2)
        done.append(run)
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="new folder for runs and database")
    ap.add_argument("--cpu", action="store_true", help="gloo on the CPU instead of NCCL")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = ap.parse_args(argv)
    gpu = not args.cpu
    nsys = locate_nsys() is not None
    runs = plan(args.cpu, nsys)
    if gpu and not nsys:
        print("nsys not found: the Nsight Systems half is left out", flush=True)
    runs = collect_all(runs, args.out, gpu, args.dry_run)
    db = args.out / "check.duckdb"
    if args.dry_run:
        print(shlex.join(["tracekit", "import", str(args.out), "--db", str(db)]))
        return 0
    proc = subprocess.run(
        [*TRACEKIT, "import", *(str(args.out / r.name) for r in runs), "--db", str(db)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 2
    checks = []
    with duckdb.connect(str(db), read_only=True) as con:
        run_ids = {r for (r,) in con.execute("SELECT run_id FROM runs").fetchall()}
        for run in runs:
            run_id = run.name if run.name in run_ids else f"{run.name}-nsys"
            checks += check_run(con, run, run_id, gpu)
    width = max(len(c.run) for c in checks)
    for c in checks:
        print(f"{'ok  ' if c.ok else 'FAIL'} {c.run:<{width}}  {c.name}: {c.detail}")
    failed = sum(not c.ok for c in checks)
    print(f"{len(checks) - failed} of {len(checks)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
