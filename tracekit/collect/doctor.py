"""``tracekit doctor``: what ``tracekit collect`` would find and do on this host.

Starts no run. PyTorch is probed in a child Python (the launcher never imports
torch), Nsight Systems by asking ``nsys`` for its version and its export
flags, the launcher from the environment, as ``tracekit collect`` reads it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from tracekit.collect import nsys_cmd
from tracekit.collect.launch_env import detect_rank_env
from tracekit.errors import TracekitError

TORCH_PROBE = """
import json
try:
    import torch
    import torch.distributed as dist
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    raise SystemExit(0)
cuda = torch.cuda.is_available()
gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
nccl = None
if cuda and dist.is_nccl_available():
    nccl = ".".join(str(v) for v in torch.cuda.nccl.version())
print(json.dumps({
    "torch": torch.__version__,
    "cuda": torch.version.cuda,
    "gpus": gpus,
    "nccl": nccl,
    "gloo": dist.is_available() and dist.is_gloo_available(),
}))
"""


@dataclass(frozen=True)
class TorchInfo:
    """PyTorch as a rank process would import it; ``error`` when it cannot."""

    version: str | None
    cuda: str | None
    gpus: tuple[str, ...]
    nccl: str | None
    gloo: bool
    error: str | None = None


@dataclass(frozen=True)
class NsysInfo:
    path: str
    version: str | None
    blobs: bool  # `nsys export --include-blobs` is understood


@dataclass(frozen=True)
class Diagnosis:
    """The lines ``tracekit doctor`` prints, and why collection cannot run (None: it can)."""

    lines: tuple[tuple[str, str], ...]
    problem: str | None


def probe_torch(python: str = sys.executable, env: Mapping[str, str] | None = None) -> TorchInfo:
    done = subprocess.run(
        [python, "-c", TORCH_PROBE],
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        timeout=120,
    )
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = " ".join(done.stderr.split()[-40:])
        found = {"error": f"the torch probe exited {done.returncode}: {tail}"}
    if "error" in found:
        return TorchInfo(None, None, (), None, False, found["error"])
    return TorchInfo(
        found["torch"], found["cuda"], tuple(found["gpus"]), found["nccl"], bool(found["gloo"])
    )


def probe_nsys(nsys: str) -> NsysInfo:
    """The version ``nsys --version`` prints and whether ``nsys export`` takes blobs."""

    try:
        done = subprocess.run([nsys, "--version"], capture_output=True, text=True, timeout=60)
        version = done.stdout.strip().splitlines() if done.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired):
        version = []
    return NsysInfo(nsys, version[0] if version else None, nsys_cmd.export_blobs(nsys))


def diagnose(env: Mapping[str, str], device: str = "auto") -> Diagnosis:
    """Everything ``tracekit doctor`` reports, for ``tracekit collect --device DEVICE``."""
    lines: list[tuple[str, str]] = [("python", f"{sys.version.split()[0]} ({sys.executable})")]
    problems: list[str] = []
    torch = probe_torch(env=env)
    if torch.error is not None:
        lines.append(("torch", f"not importable: {torch.error}"))
        problems.append(
            f"PyTorch cannot be imported by {sys.executable} ({torch.error}); "
            "install it: pip install 'tracekit[collect]'"
        )
    else:
        lines.append(("torch", str(torch.version)))
        lines.append(("CUDA (torch build)", torch.cuda or "none (CPU build)"))
        gpus = ", ".join(f"{i}: {name}" for i, name in enumerate(torch.gpus))
        lines.append(("GPUs visible", f"{len(torch.gpus)}" + (f" ({gpus})" if gpus else "")))
        lines.append(("NCCL", torch.nccl or "not available"))
        lines.append(("gloo", "available" if torch.gloo else "not available"))
    found = nsys_cmd.locate_nsys()
    nsys = probe_nsys(found) if found else None
    if nsys is None:
        lines.append(("nsys", "not found (PATH, /opt/nvidia/nsight-systems*, /usr/local/cuda*)"))
    else:
        flag = "--include-blobs=true" if nsys.blobs else "no --include-blobs (sizes not decoded)"
        lines.append(("nsys", f"{nsys.path} · {nsys.version or 'version unknown'} · export {flag}"))
    try:
        rank_env = detect_rank_env(env)
    except TracekitError as exc:
        rank_env = None
        lines.append(("launcher", f"refused: {exc.message}"))
        problems.append(exc.message + (f" {exc.hint}" if exc.hint else ""))
    else:
        if rank_env is None:
            lines.append(("launcher", "none: tracekit collect spawns the tp×pp ranks on this host"))
        else:
            lines.append(
                (
                    "launcher",
                    f"{rank_env.launcher}: this process is rank {rank_env.rank} of "
                    f"{rank_env.world_size} (local rank {rank_env.local_rank}), "
                    f"rendezvous {rank_env.master_addr}:{rank_env.master_port}",
                )
            )
    if torch.error is None:
        gpu = bool(torch.gpus) and device != "cpu"
        if device == "cuda" and not torch.gpus:
            problems.append("--device cuda was asked for but torch sees no CUDA GPU")
        if gpu:
            plan = "CUDA + NCCL, bfloat16, one GPU per local rank"
            if rank_env is None:
                plan += f" (at most {len(torch.gpus)} ranks on this host)"
        else:
            plan = "CPU + gloo, float32, the cores shared among the ranks"
        profilers = "torch.profiler" + (", Nsight Systems" if nsys and gpu else "")
        lines.append(("collect would run", f"{plan}; profilers: {profilers}"))
    return Diagnosis(tuple(lines), "; ".join(problems) if problems else None)
