# ruff: noqa: E501  (real kernel names are long)
"""Generate large, realistic synthetic traces: Kineto JSON (.json / .json.gz) and nsys SQLite.

The event mix and argument shapes are those of the real NCCL trace in
``../shared/traces/kineto/nccl_parser_config`` (PyTorch 2.x, A100): per
launched kernel a ``cpu_op`` (with ``External id``, ``Record function id``,
``Sequence number``), a ``cuda_runtime`` ``cudaLaunchKernel`` (``correlation``,
``cbid``), an ``ac2g`` flow pair and the ``kernel`` itself (``device``,
``stream``, ``correlation``, ``grid``, ``block``, occupancy...); per collective
a ``record_param_comms`` CPU op and an NCCL kernel both carrying
``Collective name`` / ``In msg nelems`` / ``dtype`` / ``Process Group *`` args,
a ``nccl:all_reduce`` user annotation mirrored as ``gpu_user_annotation``;
some ``gpu_memcpy``. Ranges follow tracekit's annotation convention:
``tk:step=<k> phase=<prefill|decode>`` > ``tk:layer=<n>`` >
``tk:block=<attention|mlp>`` (plus ``embedding`` / ``lm_head`` per step).

Per layer and step: attention (4 kernels + all_reduce) and mlp (3 kernels +
all_reduce); the all_reduce runs on the NCCL stream and overlaps the next
block's first kernels, so overlap is neither 0 nor 100 %.

Files are written streaming (one event at a time); memory stays flat whatever
the size. Usage::

    python benchmarks/synth.py OUT_DIR --ranks 2 --layers 32 --steps 8
    python benchmarks/synth.py OUT_DIR --ranks 1 --size-mb 1024      # ~1 GB per rank
    python benchmarks/synth.py OUT_DIR --ranks 2 --size-mb 200 --gzip
    python benchmarks/synth.py OUT_DIR --ranks 2 --size-mb 200 --format nsys
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import orjson

BASE_NS = 1_700_000_000_000_000_000
PID = 2910249
TID = 2919752
COMPUTE_STREAM = 7
NCCL_STREAM = 40

ATTN_KERNELS = [
    (
        "aten::linear",
        "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x32_stage4_warpsize2x2x1_tensor16x8x16_kernel",
        38.0,
    ),  # noqa: E501
    (
        "aten::_scaled_dot_product_flash_attention",
        "void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4, false, false, cutlass::bfloat16_t>, true, false, false, false, true, true, false>(pytorch_flash::Flash_fwd_params)",
        61.0,
    ),  # noqa: E501
    (
        "aten::linear",
        "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x64x64_stage3_warpsize2x2x1_tensor16x8x16_kernel",
        21.0,
    ),  # noqa: E501
    (
        "aten::add",
        "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>, at::detail::Array<char*, 3> >(int, at::native::CUDAFunctor_add<c10::BFloat16>, at::detail::Array<char*, 3>)",
        4.0,
    ),  # noqa: E501
]
MLP_KERNELS = [
    (
        "aten::linear",
        "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize256x128x32_stage3_warpsize4x2x1_tensor16x8x16_kernel",
        72.0,
    ),  # noqa: E501
    (
        "aten::silu",
        "void at::native::vectorized_elementwise_kernel<4, at::native::silu_kernel(at::TensorIteratorBase&)::{lambda()#1}::operator()() const::{lambda()#2}::operator()() const::{lambda(c10::BFloat16)#1}, at::detail::Array<char*, 2> >(int, at::native::silu_kernel(at::TensorIteratorBase&)::{lambda()#1}::operator()() const::{lambda()#2}::operator()() const::{lambda(c10::BFloat16)#1}, at::detail::Array<char*, 2>)",
        9.0,
    ),  # noqa: E501
    (
        "aten::linear",
        "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x32_stage4_warpsize2x2x1_tensor16x8x16_kernel",
        70.0,
    ),  # noqa: E501
]
NCCL_KERNEL = "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)"
BLOCK_KERNELS = {"attention": ATTN_KERNELS, "mlp": MLP_KERNELS}


@dataclass
class Counts:
    """What a generated trace holds, for tests and benchmark reports."""

    events: int = 0  # timed events (ph X) — what tracekit stores
    kernels: int = 0  # all kernels, NCCL included
    comm_kernels: int = 0
    memcpys: int = 0
    bytes: int = 0


def _fmt_us(ns: int) -> str:
    return f"{ns // 1000}.{ns % 1000:03d}"


class _Clock:
    def __init__(self, rng: random.Random, start_ns: int) -> None:
        self.rng = rng
        self.cpu = start_ns
        self.gpu = start_ns
        self.nccl = start_ns

    def jitter(self, mean_us: float) -> int:
        return max(1000, int(self.rng.gauss(mean_us, mean_us * 0.1) * 1000))


class _Ids:
    def __init__(self) -> None:
        self.external = 1
        self.record = 1
        self.seq = 1
        self.corr = 1


def _events_for_rank(rank: int, world: int, layers: int, steps: int, seed: int):
    """Yield (kind, dict-or-tuple) events in a realistic order; kind 'X' events are timed.

    Produces plain tuples consumed by the writers; kept format-neutral so Kineto
    and nsys outputs describe the same timeline.
    """
    rng = random.Random(seed * 1000 + rank)
    clock = _Clock(rng, 1_000_000)
    ids = _Ids()
    hidden = 4096
    tokens_prefill = 2048
    for step in range(steps):
        phase = "prefill" if step == 0 else "decode"
        tokens = tokens_prefill if phase == "prefill" else 8
        step_start = clock.cpu
        ranges: list[tuple[str, int]] = []  # (name, start) stack closed in LIFO order
        ranges.append((f"tk:step={step} phase={phase}", step_start))
        clock.cpu += 3000
        for layer in range(-1, layers + 1):
            if layer == -1:
                plan = [("embedding", [ATTN_KERNELS[3]], False)]
            elif layer == layers:
                plan = [("lm_head", [MLP_KERNELS[0]], False)]
            else:
                plan = [("attention", ATTN_KERNELS, True), ("mlp", MLP_KERNELS, True)]
            layer_start = clock.cpu
            if 0 <= layer < layers:
                clock.cpu += 800
            for block, kernels, allreduce in plan:
                block_start = clock.cpu
                clock.cpu += 600
                for op, kname, mean in kernels:
                    yield from _launch(clock, ids, op, kname, mean, tokens, hidden)
                if allreduce:
                    yield from _allreduce(clock, ids, rank, world, tokens * hidden)
                clock.cpu += 500
                yield (
                    "X",
                    "user_annotation",
                    f"tk:block={block}",
                    block_start,
                    clock.cpu - block_start,
                    None,
                )
            if 0 <= layer < layers:
                clock.cpu += 300
                yield (
                    "X",
                    "user_annotation",
                    f"tk:layer={layer}",
                    layer_start,
                    clock.cpu - layer_start,
                    None,
                )
        # a device-to-host copy of the logits at the end of each step
        yield from _memcpy(clock, ids)
        clock.cpu = max(clock.cpu, clock.gpu) + 20_000
        name, start = ranges.pop()
        yield ("X", "user_annotation", name, start, clock.cpu - start, None)


def _launch(clock: _Clock, ids: _Ids, op: str, kname: str, mean: float, tokens: int, hidden: int):
    ext, corr = ids.external, ids.corr
    ids.external += 1
    ids.corr += 1
    op_start = clock.cpu
    clock.cpu += clock.jitter(4)
    launch_start = clock.cpu
    launch_dur = clock.jitter(5)
    clock.cpu += launch_dur
    clock.cpu += clock.jitter(2)
    op_dur = clock.cpu - op_start
    k_start = max(clock.gpu, launch_start + 3000)
    k_dur = clock.jitter(mean * (1.0 if tokens > 8 else 0.25))
    clock.gpu = k_start + k_dur + 1500
    seqno = ids.seq
    ids.seq += 1
    rf = ids.record
    ids.record += 1
    yield (
        "X",
        "cpu_op",
        op,
        op_start,
        op_dur,
        {
            "External id": ext,
            "Record function id": rf,
            "Sequence number": seqno,
            "Fwd thread id": 0,
            "Ev Idx": rf,
            "Input Dims": [[tokens, hidden], [hidden, hidden], []],
            "Input type": ["c10::BFloat16", "c10::BFloat16", ""],
        },
    )
    yield (
        "X",
        "cuda_runtime",
        "cudaLaunchKernel",
        launch_start,
        launch_dur,
        {"External id": ext, "cbid": 211, "correlation": corr},
    )
    yield ("s", corr, launch_start)
    yield (
        "K",
        kname,
        k_start,
        k_dur,
        {
            "External id": ext,
            "queued": 0,
            "device": 0,
            "context": 1,
            "stream": COMPUTE_STREAM,
            "correlation": corr,
            "registers per thread": 168,
            "shared memory": 73728,
            "blocks per SM": 1.185185,
            "warps per SM": 9.481482,
            "grid": [128, 1, 1],
            "block": [256, 1, 1],
            "est. achieved occupancy %": 13,
        },
    )
    yield ("f", corr, k_start)


def _allreduce(clock: _Clock, ids: _Ids, rank: int, world: int, nelems: int):
    ext, corr = ids.external, ids.corr
    ids.external += 2
    ids.corr += 1
    rf = ids.record
    ids.record += 2
    group = {
        "Collective name": "allreduce",
        "In msg nelems": nelems,
        "Out msg nelems": nelems,
        "Group size": world,
        "dtype": "BFloat16",
        "In split size": "[]",
        "Out split size": "[]",
        "Process Group Name": "0",
        "Process Group Description": "default_pg",
        "Process Group Ranks": "[" + ", ".join(str(r) for r in range(world)) + "]",
    }
    op_start = clock.cpu
    clock.cpu += clock.jitter(6)
    ann_start = clock.cpu
    clock.cpu += clock.jitter(3)
    launch_start = clock.cpu
    launch_dur = clock.jitter(8)
    clock.cpu += launch_dur + clock.jitter(3)
    ann_dur = clock.cpu - ann_start
    clock.cpu += clock.jitter(2)
    op_dur = clock.cpu - op_start
    k_start = max(clock.gpu, clock.nccl, launch_start + 3000)
    k_dur = clock.jitter(45 + nelems / 400_000)
    clock.nccl = k_start + k_dur + 1000
    # the next compute kernel may start before the all-reduce ends: overlap
    clock.gpu = k_start + int(k_dur * clock.rng.uniform(0.2, 0.7))
    yield (
        "X",
        "cpu_op",
        "record_param_comms",
        op_start,
        op_dur,
        {
            "External id": ext,
            "Record function id": rf,
            "Global rank stride": 1,
            "Global rank start": 0,
            "Ev Idx": rf,
            **group,
        },
    )
    yield (
        "X",
        "user_annotation",
        "nccl:all_reduce",
        ann_start,
        ann_dur,
        {"External id": ext + 1, "Record function id": rf + 1, "Ev Idx": rf + 1},
    )
    yield (
        "X",
        "cuda_runtime",
        "cudaLaunchKernel",
        launch_start,
        launch_dur,
        {"External id": ext + 1, "cbid": 211, "correlation": corr},
    )
    yield ("s", corr, launch_start)
    yield ("G", "nccl:all_reduce", k_start, k_dur, {"External id": ext + 1})
    yield (
        "N",
        NCCL_KERNEL,
        k_start,
        k_dur,
        {
            "External id": ext,
            "queued": 0,
            "device": 0,
            "context": 1,
            "stream": NCCL_STREAM,
            "correlation": corr,
            "registers per thread": 96,
            "shared memory": 87568,
            "blocks per SM": 0.074074,
            "warps per SM": 1.259259,
            "grid": [8, 1, 1],
            "block": [544, 1, 1],
            "est. achieved occupancy %": 0,
            **group,
        },
    )
    yield ("f", corr, k_start)


def _memcpy(clock: _Clock, ids: _Ids):
    ext, corr = ids.external, ids.corr
    ids.external += 1
    ids.corr += 1
    start = clock.cpu
    dur = clock.jitter(10)
    clock.cpu += dur
    k_start = max(clock.gpu, clock.nccl, start + 2000)
    k_dur = clock.jitter(20)
    clock.gpu = k_start + k_dur
    yield (
        "X",
        "cuda_runtime",
        "cudaMemcpyAsync",
        start,
        dur,
        {"External id": ext, "cbid": 41, "correlation": corr},
    )
    yield (
        "M",
        "Memcpy DtoH (Device -> Pinned)",
        k_start,
        k_dur,
        {
            "External id": ext,
            "device": 0,
            "context": 1,
            "stream": COMPUTE_STREAM,
            "correlation": corr,
            "bytes": 262144,
            "memory bandwidth (GB/s)": 13.1,
        },
    )


# --------------------------------------------------------------------------- Kineto


def _kineto_line(ev: tuple, counts: Counts) -> bytes:
    tag = ev[0]
    if tag == "X":
        _, cat, name, start, dur, args = ev
        counts.events += 1
        body = {"ph": "X", "cat": cat, "name": name, "pid": PID, "tid": TID}
        head = orjson.dumps(body)[:-1]
        tail = b'"ts":' + _fmt_us(start).encode() + b',"dur":' + _fmt_us(dur).encode()
        if args is not None:
            tail += b',"args":' + orjson.dumps(args)
        return head + b"," + tail + b"}"
    if tag in ("s", "f"):
        _, corr, ts = ev
        bp = ',"bp":"e"' if tag == "f" else ""
        tid = TID if tag == "s" else COMPUTE_STREAM
        pid = PID if tag == "s" else 0
        return (
            f'{{"ph":"{tag}","id":{corr},"pid":{pid},"tid":{tid},"ts":{_fmt_us(ts)},'
            f'"cat":"ac2g","name":"ac2g"{bp}}}'
        ).encode()
    _, name, start, dur, args = ev
    counts.events += 1
    cat = {"K": "kernel", "N": "kernel", "G": "gpu_user_annotation", "M": "gpu_memcpy"}[tag]
    if cat == "kernel":
        counts.kernels += 1
        counts.comm_kernels += tag == "N"
    if cat == "gpu_memcpy":
        counts.memcpys += 1
    stream = NCCL_STREAM if tag in ("N", "G") else COMPUTE_STREAM
    return (
        b'{"ph":"X","cat":"'
        + cat.encode()
        + b'","name":'
        + orjson.dumps(name)
        + b',"pid":0,"tid":'
        + str(stream).encode()
        + b',"ts":'
        + _fmt_us(start).encode()
        + b',"dur":'
        + _fmt_us(dur).encode()
        + b',"args":'
        + orjson.dumps(args)
        + b"}"
    )


def _kineto_head(rank: int, world: int) -> bytes:
    meta = {
        "schemaVersion": 1,
        "deviceProperties": [
            {
                "id": 0,
                "name": "NVIDIA A100-SXM4-80GB",
                "totalGlobalMem": 85_097_971_712,
                "computeMajor": 8,
                "computeMinor": 0,
                "maxThreadsPerBlock": 1024,
                "maxThreadsPerMultiprocessor": 2048,
                "regsPerBlock": 65536,
                "warpSize": 32,
                "sharedMemPerBlock": 49152,
                "numSms": 108,
                "regsPerMultiprocessor": 65536,
                "sharedMemPerBlockOptin": 166912,
                "sharedMemPerMultiprocessor": 167936,
            }
        ],
        "distributedInfo": {
            "backend": "nccl",
            "rank": rank,
            "world_size": world,
            "pg_count": 1,
            "pg_config": [
                {
                    "pg_name": "0",
                    "pg_desc": "default_pg",
                    "backend_config": "cuda:nccl",
                    "pg_size": world,
                    "ranks": list(range(world)),
                }
            ],
            "nccl_version": "2.21.5",
        },
    }
    # torch writes `"rank": 0` with a space; HTA finds the rank with a regex that
    # needs it (compact `"rank":0` makes every file rank 0 for HTA)
    text = json.dumps(meta).encode()[:-1] + b',\n  "traceEvents": [\n'
    threads = [
        {
            "name": "process_name",
            "ph": "M",
            "ts": 0,
            "pid": PID,
            "tid": 0,
            "args": {"name": f"python3 {PID}"},
        },
        {
            "name": "thread_name",
            "ph": "M",
            "ts": 0,
            "pid": PID,
            "tid": TID,
            "args": {"name": "thread 2919752 (python3)"},
        },
        {"name": "process_name", "ph": "M", "ts": 0, "pid": 0, "tid": 0, "args": {"name": "GPU 0"}},
        {
            "name": "thread_name",
            "ph": "M",
            "ts": 0,
            "pid": 0,
            "tid": COMPUTE_STREAM,
            "args": {"name": f"stream {COMPUTE_STREAM}"},
        },
        {
            "name": "thread_name",
            "ph": "M",
            "ts": 0,
            "pid": 0,
            "tid": NCCL_STREAM,
            "args": {"name": f"stream {NCCL_STREAM}"},
        },
    ]
    return text + b",\n".join(b"  " + orjson.dumps(t) for t in threads)


def write_kineto(
    path: Path,
    *,
    rank: int,
    world: int,
    layers: int,
    steps: int,
    seed: int = 0,
    gzip_level: int = 6,
) -> Counts:
    """Write one rank's trace to ``path`` (gzip when it ends in .gz); returns what it holds."""
    counts = Counts()
    raw = path.open("wb")
    out: io.BufferedIOBase = (
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=gzip_level, mtime=0)
        if path.name.endswith(".gz")
        else raw
    )
    with raw, out:
        buf = io.BytesIO()
        buf.write(_kineto_head(rank, world))
        for ev in _events_for_rank(rank, world, layers, steps, seed):
            buf.write(b",\n  ")
            buf.write(_kineto_line(ev, counts))
            if buf.tell() > 1 << 20:
                out.write(buf.getvalue())
                buf.seek(0)
                buf.truncate()
        buf.write(
            b'\n  ],\n  "traceName": "synthetic", "displayTimeUnit": "ms",\n'
            b'  "baseTimeNanoseconds": ' + str(BASE_NS).encode() + b"\n}\n"
        )
        out.write(buf.getvalue())
    counts.bytes = path.stat().st_size
    return counts


def bytes_per_step(layers: int, world: int = 2) -> int:
    """Uncompressed Kineto bytes of one step (measured on a small sample)."""
    counts = Counts()
    total = 0
    for ev in _events_for_rank(0, world, layers, 2, 0):
        total += len(_kineto_line(ev, counts)) + 4
    return total // 2


# --------------------------------------------------------------------------- nsys


def write_nsys(
    path: Path, *, rank: int, world: int, layers: int, steps: int, seed: int = 0
) -> Counts:
    """Write one rank as an nsys SQLite export (real DDL, see nsys_schema.sql)."""
    counts = Counts()
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript((Path(__file__).with_name("nsys_schema.sql")).read_text())
    pid = 1000 + rank
    global_pid = pid << 24
    global_tid = global_pid | pid
    strings: dict[str, int] = {}

    def sid(text: str) -> int:
        if text not in strings:
            strings[text] = len(strings) + 1
        return strings[text]

    session_start = 100_000_000_000
    kernels, runtime, nvtx, memcpy = [], [], [], []

    def flush() -> None:
        if kernels:
            db.executemany(
                "INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL (start, end, deviceId, contextId, streamId,"
                " correlationId, globalPid, demangledName, shortName, mangledName, launchType,"
                " cacheConfig, registersPerThread, gridX, gridY, gridZ, blockX, blockY, blockZ,"
                " staticSharedMemory, dynamicSharedMemory, localMemoryPerThread, localMemoryTotal,"
                " gridId, sharedMemoryExecuted, tensorSizeMinusOneElements)"
                " VALUES (?,?,?,1,?,?,?,?,?,NULL,0,0,96,?,1,1,?,1,1,0,0,0,0,?,0,'[]')",
                kernels,
            )
        if runtime:
            db.executemany(
                "INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME (start, end, eventClass, globalTid,"
                " correlationId, nameId, returnValue) VALUES (?,?,0,?,?,?,0)",
                runtime,
            )
        if nvtx:
            db.executemany(
                "INSERT INTO NVTX_EVENTS (start, end, eventType, text, globalTid, domainId)"
                " VALUES (?,?,59,?,?,0)",
                nvtx,
            )
        if memcpy:
            db.executemany(
                "INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY (start, end, deviceId, contextId,"
                " streamId, correlationId, globalPid, bytes, copyKind, srcKind, dstKind)"
                " VALUES (?,?,?,1,?,?,?,262144,2,2,3)",
                memcpy,
            )
        kernels.clear()
        runtime.clear()
        nvtx.clear()
        memcpy.clear()

    for ev in _events_for_rank(rank, world, layers, steps, seed):
        tag = ev[0]
        if tag == "X":
            _, cat, name, start, dur, args = ev
            t = session_start + start
            if cat == "cuda_runtime":
                runtime.append((t, t + dur, global_tid, args["correlation"], sid(name + "_v3020")))
            else:  # cpu ops and record_function ranges are NVTX ranges under emit_nvtx
                nvtx.append((t, t + dur, name, global_tid))
            counts.events += 1
        elif tag in ("K", "N"):
            _, name, start, dur, args = ev
            t = session_start + start
            short = name.split("(")[0].split("<")[0].replace("void ", "")
            kernels.append(
                (
                    t,
                    t + dur,
                    rank,
                    args["stream"],
                    args["correlation"],
                    global_pid,
                    sid(name),
                    sid(short),
                    args["grid"][0],
                    args["block"][0],
                    counts.kernels,
                )
            )
            counts.events += 1
            counts.kernels += 1
            counts.comm_kernels += tag == "N"
        elif tag == "M":
            _, name, start, dur, args = ev
            t = session_start + start
            memcpy.append((t, t + dur, rank, args["stream"], args["correlation"], global_pid))
            counts.events += 1
            counts.memcpys += 1
        if len(kernels) + len(runtime) + len(nvtx) > 200_000:
            flush()
    flush()
    db.executemany("INSERT INTO StringIds VALUES (?, ?)", [(i, s) for s, i in strings.items()])
    thread_name = sid("python3")
    db.execute("INSERT INTO StringIds VALUES (?, ?)", (thread_name, "python3"))
    db.execute("INSERT INTO ThreadNames VALUES (?, 20, ?)", (thread_name, global_tid))
    db.execute("INSERT INTO PROCESSES VALUES (?, ?, 'python3')", (global_pid, pid))
    end = db.execute("SELECT max(end) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0] or 0
    db.execute(
        "INSERT INTO ANALYSIS_DETAILS VALUES (?, ?, ?, ?)",
        (1 << 48, end - session_start, session_start, end),
    )
    db.execute(
        "INSERT INTO TARGET_INFO_SESSION_START_TIME VALUES (?, ?, ?, ?)",
        (1_700_000_000_000_000_000, "2023-11-14T22:13:20Z", "2023-11-14T22:13:20Z", session_start),
    )
    db.executemany(
        "INSERT INTO META_DATA_EXPORT VALUES (?, ?)",
        [
            ("EXPORT_PRODUCT_NAME", "NVIDIA Nsight Systems"),
            ("EXPORT_PRODUCT_VERSION", "2026.2.1.210"),
            ("EXPORT_SCHEMA_VERSION", "3.25.0"),
            ("EXPORT_SCHEMA_VERSION_MAJOR", "3"),
            ("EXPORT_SCHEMA_VERSION_MINOR", "25"),
            ("EXPORT_SCHEMA_VERSION_MICRO", "0"),
            ("DERIVED_BY", "tracekit benchmarks/synth.py"),
        ],
    )
    db.commit()
    db.close()
    counts.bytes = path.stat().st_size
    return counts


# --------------------------------------------------------------------------- CLI


def generate(
    out: Path,
    *,
    ranks: int,
    layers: int,
    steps: int | None = None,
    size_mb: float | None = None,
    fmt: str = "kineto",
    gz: bool = False,
    seed: int = 0,
    gzip_level: int = 6,
) -> list[tuple[Path, Counts]]:
    """Write ``ranks`` files into ``out``; ``size_mb`` (uncompressed JSON per rank) sets steps."""
    out.mkdir(parents=True, exist_ok=True)
    if steps is None:
        per_step = bytes_per_step(layers, ranks)
        steps = max(1, round((size_mb or 10) * 1e6 / per_step))
    made = []
    for rank in range(ranks):
        if fmt == "nsys":
            path = out / f"rank{rank}.sqlite"
            counts = write_nsys(path, rank=rank, world=ranks, layers=layers, steps=steps, seed=seed)
        else:
            path = out / (f"rank{rank}.pt.trace.json" + (".gz" if gz else ""))
            counts = write_kineto(
                path,
                rank=rank,
                world=ranks,
                layers=layers,
                steps=steps,
                seed=seed,
                gzip_level=gzip_level,
            )
        made.append((path, counts))
    return made


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="output folder (one file per rank)")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--steps", type=int, help="decode steps (step 0 is prefill)")
    p.add_argument("--size-mb", type=float, help="target uncompressed JSON MB per rank")
    p.add_argument("--format", choices=["kineto", "nsys"], default="kineto")
    p.add_argument("--gzip", action="store_true", help="write .json.gz")
    p.add_argument("--gzip-level", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    for path, c in generate(
        a.out,
        ranks=a.ranks,
        layers=a.layers,
        steps=a.steps,
        size_mb=a.size_mb,
        fmt=a.format,
        gz=a.gzip,
        seed=a.seed,
        gzip_level=a.gzip_level,
    ):
        print(
            f"{path}\t{c.bytes / 1e6:.1f} MB\tevents={c.events}\tkernels={c.kernels}"
            f"\tcomm_kernels={c.comm_kernels}\tmemcpy={c.memcpys}"
        )


if __name__ == "__main__":
    main()
