"""One rank of a ``tracekit collect`` run: build the stage, generate, profile.

Started by ``tracekit collect`` (``python worker.py ...`` with RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT set), directly or under
``nsys profile``. Runs ``--warmup`` generations, then one measured generation
(prefill of the batch, then greedy decode) inside the profiled region. Writes
``rank{r}.pt.trace.json.gz``; rank 0 also writes ``worker_result.json`` (the
layout gathered from every rank, versions, latency) for the launcher.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import socket
import sys
import time
import traceback
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from annotate import Annotator
from llama import Stage, memory_estimate, random_weights
from parallel import Comm, RankLayout

from tracekit.collect.presets import ModelShape
from tracekit.collect.supervise import FAILURE_MARK

FAULT_ENV = "TRACEKIT_COLLECT_FAULT"
"""``<rank>:crash`` or ``<rank>:hang``: make one rank fail (used by the tests)."""


class Refusal(RuntimeError):
    """This host cannot run the rank as asked: logged as one line, no traceback."""


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MODEL_FIELDS = ("layers", "hidden", "heads", "kv_heads", "intermediate", "vocab")


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tp", type=int, required=True)
    ap.add_argument("--pp", type=int, required=True)
    ap.add_argument("--model", default="tiny", help="name recorded for the shape")
    for name in MODEL_FIELDS:
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=int, required=True)
    ap.add_argument("--rope-theta", type=float, default=500000.0)
    ap.add_argument("--rms-eps", type=float, default=1e-5)
    ap.add_argument("--max-positions", type=int, default=8192)
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--gen-len", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--dtype", choices=["auto", *sorted(DTYPES)], default="auto")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--backend", choices=["auto", "gloo", "nccl"], default="auto")
    ap.add_argument("--profiler", choices=["torch", "nsys", "both", "none"], default="torch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--logits-collective", choices=["gather", "all_gather"], default="gather")
    ap.add_argument("--out", type=Path, required=True)
    return ap.parse_args(argv)


def inject_fault(rank: int) -> None:
    spec = os.environ.get(FAULT_ENV, "")
    if not spec:
        return
    target, kind = spec.split(":")
    if int(target) != rank:
        return
    print(f"tracekit-worker: rank {rank} injects a {kind} ({FAULT_ENV})", flush=True)
    if kind == "hang":
        time.sleep(3600)
    raise RuntimeError(f"injected fault on rank {rank} ({FAULT_ENV}={spec})")


class Generator:
    """Runs prefill + greedy decode of one batch through this rank's stage."""

    def __init__(self, stage: Stage, args: argparse.Namespace, device: torch.device) -> None:
        self.stage = stage
        self.args = args
        self.device = device
        self.dtype = DTYPES[args.dtype]
        gen = torch.Generator().manual_seed(args.seed)
        vocab = stage.shape.vocab
        self.prompts = torch.randint(0, vocab, (args.batch, args.prompt_len), generator=gen)
        self.prompts = self.prompts.to(device)
        self.like = torch.empty(0, dtype=self.dtype, device=device)

    def run(self) -> tuple[list[list[int]], float, float]:
        """Returns (output tokens per request, TTFT s, end-to-end s) as seen here."""
        args = self.args
        stage = self.stage
        layout = stage.comm.layout
        stage.reset_cache(args.batch, args.prompt_len + args.gen_len)
        tokens = self.prompts
        outputs: list[list[int]] = []
        start = time.perf_counter()
        ttft = 0.0
        position = 0
        for step in range(args.gen_len):
            n = tokens.shape[1]
            with stage.annotate.step(step), stage.annotate.stage(layout.pp_rank):
                logits = stage.forward(tokens, position, self.like)
                # Non-first stages only need the next step's token count, not the ids.
                next_tokens = torch.zeros((args.batch, 1), dtype=torch.int64, device=self.device)
                if layout.is_first_stage or logits is not None:
                    with stage.annotate.block("sample"):
                        sampled = None if logits is None else logits.argmax(-1, keepdim=True)
                        returned = stage.comm.return_tokens(sampled, next_tokens)
                    if layout.is_first_stage:
                        next_tokens = returned
                tokens = next_tokens
            position += n
            if layout.is_first_stage:
                outputs.append(tokens[:, 0].tolist())
            if step == 0:
                ttft = time.perf_counter() - start
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        e2e = time.perf_counter() - start
        per_request = [list(row) for row in zip(*outputs, strict=True)] if outputs else []
        return per_request, ttft, e2e


def versions(device: torch.device) -> dict[str, str | None]:
    nccl = None
    if device.type == "cuda":
        nccl = ".".join(str(v) for v in torch.cuda.nccl.version())
    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "nccl": nccl,
        "python": platform.python_version(),
    }


SHARE_GPUS_ENV = "TRACEKIT_SHARE_GPUS"
"""``1``: let several local ranks share one GPU (the single-GPU check, docs/gpu.md)."""


def pick_device(choice: str, local_rank: int | None, local_world: int) -> torch.device:
    """cuda:LOCAL_RANK when asked or available, else the CPU with the cores
    shared among the local ranks. Refuses (naming the fix) rather
    than silently putting two ranks on one GPU or every rank on GPU 0."""
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise Refusal(
                "--device cuda was asked for but torch sees no CUDA GPU"
                f" (torch {torch.__version__}, CUDA {torch.version.cuda}); "
                "run `tracekit doctor`, or use --device cpu"
            )
        if local_rank is None:
            if local_world > 1 and count > 1:
                raise Refusal(
                    "the launcher did not say this rank's local rank (LOCAL_RANK, SLURM_LOCALID,"
                    " OMPI_COMM_WORLD_LOCAL_RANK or MPI_LOCALRANKID), so the GPU to use is"
                    " unknown; export it, or start one rank per node"
                )
            local_rank = 0
        shared = os.environ.get(SHARE_GPUS_ENV) == "1"
        if local_rank >= count and not shared:
            raise Refusal(
                f"local rank {local_rank} needs GPU {local_rank} but only {count} are visible"
                f" (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')});"
                f" start at most {count} ranks per node, or set {SHARE_GPUS_ENV}=1 to share"
            )
        index = local_rank % count
        if shared and local_world > count:
            # NCCL refuses two ranks of one host on one GPU unless their host ids differ.
            os.environ["NCCL_HOSTID"] = f"{socket.gethostname()}-tracekit{local_rank}"
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    return torch.device("cpu")


def available_ram() -> int:
    """MemAvailable (free plus reclaimable cache) where Linux says it, else free pages."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_memory(
    shape: ModelShape,
    layout: RankLayout,
    args: argparse.Namespace,
    device: torch.device,
    dtype: torch.dtype,
) -> None:
    """Refuse before loading when this rank's weights and KV cache cannot fit:
    free GPU memory on CUDA, this rank's share of the available RAM on the CPU."""
    tokens = args.prompt_len + args.gen_len
    elem = torch.empty(0, dtype=dtype).element_size()
    need = memory_estimate(shape, layout.tp, layout.pp, layout.pp_rank, tokens, args.batch, elem)
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
        where = f"{device} ({free / 2**30:.1f} GiB free)"
    else:
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", layout.world_size))
        free = available_ram() // local_world
        where = f"this rank's share of the available RAM ({free / 2**30:.1f} GiB)"
    total = sum(need.values())
    if total > free:
        parts = ", ".join(f"{k.replace('_', ' ')} {v / 2**30:.1f} GiB" for k, v in need.items())
        raise Refusal(
            f"rank {layout.rank} needs about {total / 2**30:.1f} GiB ({parts}) for"
            f" {shape.name} in {args.dtype}, more than {where}; use more --tp/--pp, a"
            " smaller --dtype, --model or --batch/--prompt-len/--gen-len"
        )


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = os.environ.get("LOCAL_RANK")
    local_rank = int(local) if local is not None else None
    layout = RankLayout(rank=rank, world_size=world, tp=args.tp, pp=args.pp)
    device = pick_device(args.device, local_rank, int(os.environ.get("LOCAL_WORLD_SIZE", world)))
    backend = args.backend
    if backend == "auto":
        backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(
        backend,
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(minutes=10),
        # NCCL binds the communicator to this GPU at once (no guessing from the rank)
        device_id=device if device.type == "cuda" else None,
    )
    shape = ModelShape(
        name=args.model,
        **{k: getattr(args, k) for k in MODEL_FIELDS},
        rope_theta=args.rope_theta,
        rms_eps=args.rms_eps,
        max_positions=args.max_positions,
    )
    if args.dtype == "auto":
        args.dtype = "bfloat16" if device.type == "cuda" else "float32"
    dtype = DTYPES[args.dtype]
    check_memory(shape, layout, args, device, dtype)
    if args.checkpoint is not None:
        from checkpoint import checkpoint_weights

        load = checkpoint_weights(args.checkpoint, device, dtype)
    else:
        load = random_weights(args.seed, device, dtype)
    nvtx = args.profiler in ("nsys", "both") and device.type == "cuda"
    comm = Comm(layout)
    stage = Stage(shape, load, comm, Annotator(nvtx), device, args.logits_collective)
    generator = Generator(stage, args, device)

    measured = run_profiled(generator, args, device, rank)
    host = socket.gethostname()
    info = {"rank": rank, "host": host, "device": str(device), "local_rank": local_rank}
    infos: list[dict] = [{} for _ in range(world)]
    dist.all_gather_object(infos, info)
    if rank == 0:
        outputs, ttft, e2e = measured
        steps = max(args.gen_len - 1, 1)
        tpot = (e2e - ttft) / steps if args.gen_len > 1 else 0.0
        result = {
            "model": {**asdict(shape), "dtype": args.dtype},
            "backend": backend,
            "ranks": infos,
            "versions": versions(device),
            "latency": [
                {"request": i, "ttft_ms": ttft * 1e3, "tpot_ms": tpot * 1e3, "e2e_ms": e2e * 1e3}
                for i in range(args.batch)
            ],
            "output_tokens": outputs,
        }
        (args.out / "worker_result.json").write_text(json.dumps(result, indent=2))
    dist.destroy_process_group()


def synchronize(device: torch.device) -> None:
    """Every rank here, every kernel done: called only outside the measured window."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        dist.barrier(device_ids=[device.index])
    else:
        dist.barrier()


def run_profiled(
    generator: Generator, args: argparse.Namespace, device: torch.device, rank: int
) -> tuple[list[list[int]], float, float]:
    """``--warmup`` generations, then the measured one: the only one the
    profiler schedule keeps (exported once), and the one inside the
    cudaProfilerApi range. The ranks synchronise before each pass, outside
    the recorded window, so the barrier is not traced as communication."""
    nsys = args.profiler in ("nsys", "both") and device.type == "cuda"
    if device.type == "cuda" and args.warmup < 1 and args.profiler != "none":
        raise Refusal(
            "--warmup 0 on CUDA would measure NCCL's lazy communicator set-up;"
            " use --warmup 1 or more"
        )
    prof = None
    synchronize(device)
    if args.profiler in ("torch", "both"):
        activities = [torch.profiler.ProfilerActivity.CPU]
        if device.type == "cuda" and not nsys:
            # nsys owns CUPTI in "both" mode; Kineto then records the CPU side only.
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        trace = str(args.out / f"rank{rank}.pt.trace.json.gz")
        prof = torch.profiler.profile(
            activities=activities,
            schedule=torch.profiler.schedule(
                wait=max(args.warmup - 1, 0), warmup=min(args.warmup, 1), active=1, repeat=1
            ),
            record_shapes=True,
            on_trace_ready=lambda p: p.export_chrome_trace(trace),
        )
        # The schedule's warm-up -> active transition warns that events are cleared: intended.
        warnings.filterwarnings("ignore", message="Warning: Profiler clears events")
        warnings.filterwarnings("ignore", message="Profiler won't be using warmup")
        prof.start()
    for i in range(args.warmup + 1):
        measured_pass = i == args.warmup
        if measured_pass:
            # the peers then wait for this rank inside a collective
            inject_fault(rank)
        if measured_pass and nsys:
            torch.cuda.profiler.start()
        measured = generator.run()
        if measured_pass and nsys:
            torch.cuda.profiler.stop()
        if not measured_pass:
            synchronize(device)
        if prof is not None:
            prof.step()
    if prof is not None:
        prof.stop()
    return measured


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except BaseException as exc:
        if isinstance(exc, Refusal):
            print(f"tracekit-worker: {exc}", flush=True)
        else:
            traceback.print_exc()
        print(FAILURE_MARK.format(rank=os.environ.get("RANK", "?"), time=time.time()), flush=True)
        sys.stderr.flush()
        # Exit now: tearing torch down with the profiler running and a broken process
        # group can crash (SIGSEGV), which would hide the exit status.
        os._exit(1)
