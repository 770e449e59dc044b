"""``tracekit collect``: run the sharded decoder on T×P ranks and gather traces.

Spawns the ranks itself on one host, or runs as one rank when torchrun, srun
or mpirun started it (see :mod:`tracekit.collect.launch_env`). Each rank is
``python collectors/worker.py ...``, optionally under ``nsys profile``. The
launcher writes ``manifest.json`` (see docs/collect.md); it never imports
torch, which only the rank processes need.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import tracekit
from tracekit.collect import nsys_cmd
from tracekit.collect.launch_env import RankEnv, detect_rank_env
from tracekit.collect.manifest import (
    LOGITS_COLLECTIVES,
    Latency,
    Manifest,
    ManifestModel,
    ManifestParallel,
    ManifestRank,
    ManifestWorkload,
    Versions,
)
from tracekit.collect.outdir import WORKER_RESULT, check_out, claim_out
from tracekit.collect.presets import PRESETS, ModelShape, get_preset, shape_from_hf_config
from tracekit.collect.ranks_done import (
    WAIT_RANKS_S,
    mark_done,
    missing_message,
    wait_for_ranks,
)
from tracekit.collect.supervise import (
    REPORT_GRACE_S,
    Failure,
    RankCommand,
    RankGroup,
    log_tail,
)
from tracekit.errors import TracekitError
from tracekit.model.layout import rank_coords, stage_layers
from tracekit.resources import collectors_dir

PROFILERS = ("torch", "nsys", "both", "none")
DTYPES = ("float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")
BACKENDS = ("auto", "gloo", "nccl")


@dataclass(frozen=True)
class CollectSpec:
    """What every rank runs: model, parallel layout, batch and profiler."""

    tp: int
    pp: int
    shape: ModelShape
    batch: int = 2
    prompt_len: int = 16
    gen_len: int = 8
    warmup: int = 1
    dtype: str = "auto"
    device: str = "auto"
    backend: str = "auto"
    profiler: str = "torch"
    seed: int = 0
    checkpoint: Path | None = None
    logits_collective: str = "gather"
    """'gather' the logits to the last stage's TP rank 0, or 'all_gather' them (vLLM V1)."""

    @property
    def world_size(self) -> int:
        return self.tp * self.pp


def resolve_shape(
    model: str, checkpoint: Path | None, overrides: Mapping[str, int | None]
) -> ModelShape:
    """A preset with overrides, or the shape in a checkpoint's config.json."""
    if checkpoint is not None:
        config = checkpoint / "config.json"
        if not config.is_file():
            raise TracekitError(
                f"{checkpoint}: no config.json — is this a Hugging Face checkpoint folder?",
                hint="Point --checkpoint at the folder holding config.json and *.safetensors.",
            )
        cfg = json.loads(config.read_text())
        shape = shape_from_hf_config(cfg, checkpoint.name)
    else:
        try:
            shape = get_preset(model)
        except KeyError:
            raise TracekitError(
                f"unknown model {model!r}",
                hint=f"Known models: {', '.join(PRESETS)}; or pass --checkpoint DIR.",
            ) from None
    return shape.with_overrides(**overrides)


def check_spec(w: CollectSpec) -> None:
    """Refuse a spec the model cannot be sharded for, naming every problem at once."""
    s = w.shape
    problems = []
    if w.tp < 1 or w.pp < 1:
        problems.append("--tp and --pp must be at least 1")
    for name, value in (("heads", s.heads), ("vocab", s.vocab)):
        if value % max(w.tp, 1):
            problems.append(f"{name}={value} is not divisible by --tp {w.tp}")
    if s.kv_heads % max(w.tp, 1) and max(w.tp, 1) % s.kv_heads:
        # TP above the KV heads replicates them (as vLLM does); it must be a multiple.
        problems.append(f"kv_heads={s.kv_heads} neither divides nor is divisible by --tp {w.tp}")
    if s.intermediate % max(w.tp, 1):
        problems.append(f"intermediate={s.intermediate} is not divisible by --tp {w.tp}")
    if s.hidden % s.heads or (s.hidden // s.heads) % 2:
        problems.append(f"hidden={s.hidden} must be heads={s.heads} × an even head size")
    if s.heads % s.kv_heads:
        problems.append(f"heads={s.heads} is not a multiple of kv_heads={s.kv_heads}")
    if s.layers < w.pp:
        problems.append(f"layers={s.layers} is fewer than --pp {w.pp} stages")
    if min(w.batch, w.prompt_len, w.gen_len) < 1 or w.warmup < 0:
        problems.append("--batch, --prompt-len and --gen-len must be ≥ 1, --warmup ≥ 0")
    if w.prompt_len + w.gen_len > s.max_positions:
        problems.append(f"prompt + generated tokens exceed max_positions={s.max_positions}")
    if w.profiler not in PROFILERS:
        problems.append(f"--profiler must be one of {', '.join(PROFILERS)}")
    if w.logits_collective not in LOGITS_COLLECTIVES:
        problems.append(f"--logits-collective must be one of {', '.join(LOGITS_COLLECTIVES)}")
    if w.profiler in ("nsys", "both") and w.device == "cpu":
        problems.append("--profiler nsys/both records a GPU run; it cannot use --device cpu")
    if problems:
        raise TracekitError(
            "cannot run this layout: " + "; ".join(problems),
            hint="Pick --tp/--pp that divide the model, or override its shape (--heads, …).",
        )


def worker_argv(w: CollectSpec, out: Path, python: str = sys.executable) -> list[str]:
    s = w.shape
    argv = [python, str(collectors_dir() / "worker.py"), "--tp", str(w.tp), "--pp", str(w.pp)]
    argv += ["--model", s.name, "--layers", str(s.layers), "--hidden", str(s.hidden)]
    argv += ["--heads", str(s.heads), "--kv-heads", str(s.kv_heads)]
    argv += ["--intermediate", str(s.intermediate), "--vocab", str(s.vocab)]
    argv += ["--rope-theta", repr(s.rope_theta), "--rms-eps", repr(s.rms_eps)]
    argv += ["--max-positions", str(s.max_positions)]
    argv += ["--batch", str(w.batch), "--prompt-len", str(w.prompt_len)]
    argv += ["--gen-len", str(w.gen_len), "--warmup", str(w.warmup), "--dtype", w.dtype]
    argv += ["--device", w.device, "--backend", w.backend, "--profiler", w.profiler]
    argv += ["--seed", str(w.seed), "--logits-collective", w.logits_collective]
    argv += ["--out", str(out)]
    if w.checkpoint is not None:
        argv += ["--checkpoint", str(w.checkpoint)]
    return argv


def python_path_env(base: Mapping[str, str]) -> dict[str, str]:
    """PYTHONPATH with the folder holding the ``tracekit`` package first, so a
    worker started by path imports this tracekit, from a checkout or a wheel."""
    root = str(Path(tracekit.__file__).resolve().parent.parent)
    parts = [root, *[p for p in base.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]]
    return {"PYTHONPATH": os.pathsep.join(parts)}


def rank_commands(
    w: CollectSpec,
    out: Path,
    ranks: Sequence[RankEnv],
    nsys: str | None,
    base_env: Mapping[str, str],
) -> list[RankCommand]:
    """One command per rank to start on this host (nsys wrapped when asked)."""
    commands = []
    for env in ranks:
        argv = worker_argv(w, out)
        if nsys is not None:
            argv = nsys_cmd.profile_argv(str(out / "rank%q{RANK}"), capture_api=True, nsys=nsys)
            argv += worker_argv(w, out)
        extra = {**python_path_env(base_env), **env.worker_env()}
        commands.append(RankCommand(env.rank, tuple(argv), extra, out / f"rank{env.rank}.log"))
    return commands


def local_ranks(world_size: int, port: int) -> list[RankEnv]:
    return [
        RankEnv("local", r, world_size, r, world_size, "127.0.0.1", port) for r in range(world_size)
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def format_command(cmd: RankCommand) -> str:
    shown = {k: v for k, v in cmd.env.items() if k != "PYTHONPATH"}
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in shown.items())
    return f"{env} {shlex.join(cmd.argv)} > {shlex.quote(str(cmd.log))} 2>&1"


def require_torch() -> None:
    if importlib.util.find_spec("torch") is None:
        raise TracekitError(
            "tracekit collect needs PyTorch, which is not installed.",
            hint="Install the extra: pip install 'tracekit[collect]'.",
        )


@dataclass(frozen=True)
class CollectResult:
    out: Path
    manifest: Manifest | None
    commands: tuple[str, ...]


def collect(
    w: CollectSpec,
    out: Path,
    *,
    command_line: Sequence[str],
    timeout_s: float | None = None,
    report_grace_s: float = REPORT_GRACE_S,
    wait_ranks_s: float = WAIT_RANKS_S,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
) -> CollectResult:
    """Run the workload on ``w.world_size`` ranks and write ``out/manifest.json``.

    Raises TracekitError naming the failing rank and its log when a rank
    crashes or the timeout passes; the manifest then says ``complete: false``.
    Stopped ranks under nsys keep their reports (``report_grace_s`` to write them),
    which are exported as after a clean run. Started as one rank by a launcher,
    rank 0 writes the manifest once every rank has marked its trace complete
    (``wait_ranks_s`` at most; the ranks still missing make it incomplete).
    """
    env = dict(os.environ if env is None else env)
    check_spec(w)
    rank_env = detect_rank_env(env)
    out = out.resolve()
    nsys = None
    if w.profiler in ("nsys", "both"):
        nsys = "nsys" if dry_run else nsys_cmd.find_nsys()
    if rank_env is not None and rank_env.world_size != w.world_size:
        raise TracekitError(
            f"the launcher started {rank_env.world_size} ranks but --tp {w.tp} × --pp {w.pp}"
            f" needs {w.world_size}.",
            hint="Start exactly tp × pp processes (e.g. torchrun --nproc-per-node).",
        )
    ranks = [rank_env] if rank_env is not None else local_ranks(w.world_size, free_port())
    commands = rank_commands(w, out, ranks, nsys, env)
    shown = tuple(format_command(c) for c in commands)
    if nsys is not None:
        reports = [out / f"rank{c.rank}.nsys-rep" for c in commands]
        shown += tuple(shlex.join(nsys_cmd.export_argv(r, nsys)) for r in reports)
    check_out(out)
    if dry_run:
        return CollectResult(out, None, shown)
    require_torch()
    writes_manifest = rank_env is None or rank_env.rank == 0
    own = [c.rank for c in commands]
    claim_out(out, own, writes_manifest=writes_manifest, world_size=w.world_size)
    started = time.time()
    try:
        failure = RankGroup(commands, env, report_grace_s=report_grace_s).wait(timeout_s)
    except KeyboardInterrupt:
        if writes_manifest:
            everyone = tuple(c.rank for c in commands)
            reason = "interrupted (Ctrl-C or SIGTERM)"
            stopped = Failure(commands[0].rank, commands[0].log, reason, everyone)
            elapsed = time.time() - started
            build_manifest(w, out, command_line, ranks, stopped, elapsed).write(out)
        raise
    exported = None
    if nsys is not None:
        exported = export_reports(out, [c.rank for c in commands], nsys)
    missing = settle_ranks(out, rank_env, failure, env, wait_ranks_s)
    manifest = None
    if writes_manifest:
        manifest = build_manifest(w, out, command_line, ranks, failure, time.time() - started)
        manifest = replace(manifest, versions=replace(manifest.versions, nsys_export=exported))
        if missing:
            error = missing_message(out, missing, wait_ranks_s)
            manifest = replace(manifest, complete=False, error=error)
        manifest.write(out)
    if failure is not None:
        raise TracekitError(
            f"collection failed: {failure.message()}",
            hint=failure_hint(failure),
        )
    return CollectResult(out, manifest, shown)


def settle_ranks(
    out: Path,
    rank_env: RankEnv | None,
    failure: Failure | None,
    env: Mapping[str, str],
    wait_ranks_s: float,
) -> tuple[int, ...]:
    """Started by a launcher: rank 0 waits for the other ranks' done markers (the
    ranks missing after ``wait_ranks_s``); every other rank writes its own marker."""
    if rank_env is None:
        return ()
    if rank_env.rank != 0:
        mark_done(out, rank_env.rank, env)
        return ()
    if failure is not None:
        return ()
    return wait_for_ranks(out, range(1, rank_env.world_size), env, wait_ranks_s)


def failure_hint(failure: Failure) -> str:
    return (
        "All ranks were stopped; manifest.json says complete: false. "
        f"Last lines of {failure.log.name}:\n{log_tail(failure.log)}"
    )


def export_reports(out: Path, ranks: Sequence[int], nsys: str) -> str:
    """SQLite export of each rank's report, next to it, all at once; with blobs
    where this nsys knows ``--include-blobs``. A failed export is noted in the
    rank's log; the manifest then has ``sqlite: null``. Returns the flags used
    (the manifest's ``versions.nsys_export``)."""
    blobs = nsys_cmd.export_blobs(nsys)

    def export(rank: int) -> None:
        report = out / f"rank{rank}.nsys-rep"
        if not report.exists():
            return
        argv = nsys_cmd.export_argv(report, nsys, blobs=blobs)
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            with (out / f"rank{rank}.log").open("a") as log:
                log.write(f"\nnsys export failed ({done.returncode}):\n{done.stderr}")

    with ThreadPoolExecutor(max_workers=max(1, min(len(ranks), os.cpu_count() or 1))) as pool:
        list(pool.map(export, ranks))
    return "--type sqlite " + (
        f"{nsys_cmd.BLOBS_FLAG}=true" if blobs else "(no blobs: not in this nsys)"
    )


def build_manifest(
    w: CollectSpec,
    out: Path,
    command_line: Sequence[str],
    ranks: Sequence[RankEnv],
    failure: Failure | None,
    wall_s: float,
) -> Manifest:
    """The run's manifest, from the spec and what rank 0 gathered (``worker_result.json``)."""
    result_path = out / WORKER_RESULT
    result: dict = {}
    if result_path.exists():
        result = json.loads(result_path.read_text())
        result_path.unlink()
    gathered = {r["rank"]: r for r in result.get("ranks", [])}
    host = socket.gethostname()
    nsys = w.profiler in ("nsys", "both")
    rank_rows = []
    for r in range(w.world_size):
        seen = gathered.get(r, {})
        rank_rows.append(
            ManifestRank(
                rank=r,
                tp_rank=rank_coords(r, w.tp)[1],
                pp_rank=rank_coords(r, w.tp)[0],
                host=seen.get("host", host if ranks[0].launcher == "local" else None),
                device=seen.get("device"),
                trace=f"rank{r}.pt.trace.json.gz" if w.profiler in ("torch", "both") else None,
                log=f"rank{r}.log",
                nsys_rep=f"rank{r}.nsys-rep" if nsys else None,
                nsys_sqlite=f"rank{r}.sqlite"
                if nsys and (out / f"rank{r}.sqlite").exists()
                else None,
            )
        )
    versions = result.get("versions", {"python": sys.version.split()[0]})
    return Manifest(
        tracekit_version=tracekit.__version__,
        command=shlex.join(command_line),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        complete=failure is None and bool(result),
        error=failure.message() if failure is not None else None,
        mode="workload",
        launcher=ranks[0].launcher,
        model=ManifestModel(w.shape, result.get("model", {}).get("dtype", w.dtype)),
        parallel=ManifestParallel(
            tp=w.tp,
            pp=w.pp,
            world_size=w.world_size,
            backend=result.get("backend", w.backend),
            layers_per_stage=tuple(stage_layers(w.shape.layers, w.pp)),
        ),
        ranks=tuple(rank_rows),
        workload=ManifestWorkload(
            batch=w.batch,
            prompt_len=w.prompt_len,
            gen_len=w.gen_len,
            warmup=w.warmup,
            seed=w.seed,
            profiler=w.profiler,
            checkpoint=str(w.checkpoint) if w.checkpoint else None,
            logits_collective=w.logits_collective,
        ),
        versions=Versions(**versions),
        latency=tuple(Latency(**row) for row in result.get("latency", [])),
        output_tokens=tuple(tuple(tokens) for tokens in result.get("output_tokens", [])),
        wall_s=round(wall_s, 3),
    )
