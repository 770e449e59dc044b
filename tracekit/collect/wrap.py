"""``tracekit collect --nsys -- CMD``: run a user's own launch under nsys.

One report per rank, in the same layout as a workload run
(``DIR/rank<r>.nsys-rep``, its SQLite export, ``manifest.json``):

- started by torchrun/srun/mpirun as one rank: ``nsys profile -o DIR/rank<r> CMD``;
- CMD is a torchrun command: nsys goes inside it (``--no-python nsys ...``),
  one report per rank named from torchrun's ``RANK``;
- anything else runs as one process tree under one nsys: ``DIR/rank0.nsys-rep``
  holds every process CMD forks (``--trace-fork-before-exec=true``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import tracekit
from tracekit.collect import nsys_cmd
from tracekit.collect.launch_env import detect_rank_env
from tracekit.collect.manifest import Manifest, ManifestParallel, ManifestRank
from tracekit.collect.outdir import check_out, claim_out
from tracekit.collect.ranks_done import WAIT_RANKS_S, missing_message
from tracekit.collect.runner import CollectResult, export_reports, failure_hint, settle_ranks
from tracekit.collect.supervise import REPORT_GRACE_S, Failure, RankCommand, RankGroup
from tracekit.errors import TracekitError
from tracekit.model.layout import rank_coords

_REPORT_RE = re.compile(r"rank(\d+)\.nsys-rep$")


def interpreter_of(program: str) -> str:
    """The Python a console script (such as ``torchrun``) runs under, from its shebang."""
    path = shutil.which(program)
    if path is not None:
        try:
            with open(path, "rb") as fh:
                first = fh.readline().decode(errors="replace").strip()
        except OSError:
            first = ""
        if first.startswith("#!") and "python" in first:
            return first[2:].strip().split()[0]
    return sys.executable


def wrap_commands(
    cmd: Sequence[str], out: Path, *, capture_api: bool, env: Mapping[str, str], nsys: str
) -> list[RankCommand]:
    if not cmd:
        raise TracekitError(
            "--nsys needs a command to run after `--`.",
            hint="e.g. tracekit collect --nsys --out runs/v -- torchrun --nproc-per-node 2 app.py",
        )
    rank_env = detect_rank_env(env)
    if rank_env is not None:
        profile = nsys_cmd.profile_argv(
            str(out / f"rank{rank_env.rank}"), capture_api=capture_api, nsys=nsys
        )
        log = out / f"rank{rank_env.rank}.log"
        return [RankCommand(rank_env.rank, (*profile, *cmd), {}, log)]
    if nsys_cmd.is_torchrun(cmd):
        profile = nsys_cmd.profile_argv(
            str(out / "rank%q{RANK}"), capture_api=capture_api, nsys=nsys
        )
        python = cmd[0] if cmd[0] != "torchrun" and "python" in cmd[0] else interpreter_of(cmd[0])
        argv = nsys_cmd.wrap_torchrun(cmd, profile, python)
        return [RankCommand(0, tuple(argv), {}, out / "launch.log")]
    profile = nsys_cmd.profile_argv(str(out / "rank0"), capture_api=capture_api, nsys=nsys)
    return [RankCommand(0, (*profile, *cmd), {}, out / "rank0.log")]


def wrap(
    cmd: Sequence[str],
    out: Path,
    *,
    command_line: Sequence[str],
    tp: int | None = None,
    pp: int | None = None,
    capture_api: bool = False,
    timeout_s: float | None = None,
    report_grace_s: float = REPORT_GRACE_S,
    wait_ranks_s: float = WAIT_RANKS_S,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
) -> CollectResult:
    """Run ``cmd`` under nsys; a failure, timeout or Ctrl-C stops the app first and
    leaves nsys ``report_grace_s`` to write, then exports whatever reports there are.
    Started as one rank by a launcher, each process exports its own report and rank 0
    waits for the others (``wait_ranks_s``) before it writes the manifest."""
    env = dict(os.environ if env is None else env)
    out = out.resolve()
    nsys = "nsys" if dry_run else nsys_cmd.find_nsys()
    commands = wrap_commands(cmd, out, capture_api=capture_api, env=env, nsys=nsys)
    shown = tuple(f"{shlex.join(c.argv)} > {shlex.quote(str(c.log))} 2>&1" for c in commands)
    check_out(out)
    if dry_run:
        return CollectResult(out, None, shown)
    rank_env = detect_rank_env(env)
    claim_out(
        out,
        [] if rank_env is None else [rank_env.rank],
        writes_manifest=rank_env is None or rank_env.rank == 0,
        world_size=None if rank_env is None else rank_env.world_size,
    )
    started = time.time()
    interrupted = False
    try:
        failure = RankGroup(commands, env, report_grace_s=report_grace_s).wait(timeout_s)
    except KeyboardInterrupt:
        # Stopping is how a server run (``vllm serve``) ends: keep and export its reports.
        interrupted = True
        reason = "interrupted (Ctrl-C or SIGTERM)"
        failure = Failure(commands[0].rank, commands[0].log, reason)
    own = [r for r, _ in _reports(out)]
    if rank_env is not None:
        own = [r for r in own if r == rank_env.rank]
    exported = export_reports(out, own, nsys) if own else None
    missing = settle_ranks(out, rank_env, failure, env, wait_ranks_s)
    manifest = None
    if rank_env is None or rank_env.rank == 0:
        launcher = "local"
        if rank_env is not None:
            launcher = rank_env.launcher
        elif nsys_cmd.is_torchrun(cmd):
            launcher = "torchrun"
        manifest = wrap_manifest(
            out,
            cmd,
            command_line,
            [r for r, _ in _reports(out)],
            commands,
            tp,
            pp,
            failure,
            launcher,
            time.time() - started,
            launched=1 if rank_env is None else rank_env.world_size,
        )
        manifest = replace(manifest, versions=replace(manifest.versions, nsys_export=exported))
        if missing:
            error = missing_message(out, missing, wait_ranks_s)
            manifest = replace(manifest, complete=False, error=error)
        manifest.write(out)
    if interrupted:
        raise KeyboardInterrupt
    if failure is not None:
        raise TracekitError(f"wrapped command failed: {failure.message()}", failure_hint(failure))
    return CollectResult(out, manifest, shown)


def _reports(out: Path) -> list[tuple[int, Path]]:
    found = ((_REPORT_RE.search(p.name), p) for p in out.glob("rank*.nsys-rep"))
    return sorted((int(m.group(1)), p) for m, p in found if m)


def wrap_manifest(
    out: Path,
    cmd: Sequence[str],
    command_line: Sequence[str],
    ranks: Sequence[int],
    commands: Sequence[RankCommand],
    tp: int | None,
    pp: int | None,
    failure: Failure | None,
    launcher: str,
    wall_s: float,
    launched: int = 1,
) -> Manifest:
    """``launched``: the world size a launcher started this rank in (1 when none did)."""
    world = max(launched, (tp or 1) * (pp or 1), *(r + 1 for r in ranks))
    log = commands[0].log.name if len(commands) == 1 else None
    rows = [
        ManifestRank(
            rank=r,
            tp_rank=rank_coords(r, tp)[1] if tp else None,
            pp_rank=rank_coords(r, tp)[0] if tp else None,
            host=socket.gethostname(),
            device=None,
            trace=None,
            log=f"rank{r}.log" if (out / f"rank{r}.log").exists() else log,
            nsys_rep=f"rank{r}.nsys-rep",
            nsys_sqlite=f"rank{r}.sqlite" if (out / f"rank{r}.sqlite").exists() else None,
        )
        for r in range(world)
    ]
    return Manifest(
        tracekit_version=tracekit.__version__,
        command=shlex.join(command_line),
        wrapped_command=shlex.join(cmd),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        complete=failure is None and bool(ranks),
        error=failure.message() if failure is not None else None,
        mode="wrap",
        launcher=launcher,
        parallel=ManifestParallel(tp=tp, pp=pp, world_size=world, backend=None),
        ranks=tuple(rows),
        wall_s=round(wall_s, 3),
    )
