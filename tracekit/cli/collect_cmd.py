"""``tracekit collect``: run the sharded decoder on T×P ranks, or wrap a launch in nsys."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tracekit.cli._app import app, choice, console
from tracekit.collect.ranks_done import WAIT_RANKS_S
from tracekit.collect.runner import (
    BACKENDS,
    DEVICES,
    DTYPES,
    PROFILERS,
    CollectResult,
    CollectSpec,
    collect,
    resolve_shape,
)
from tracekit.collect.supervise import REPORT_GRACE_S
from tracekit.collect.wrap import wrap
from tracekit.errors import TracekitError

HELP = """Run a Llama-style decoder with tensor (--tp) and pipeline (--pp) parallelism
and record a trace per rank, or (--nsys -- CMD) run your own launch under Nsight
Systems. On one host tracekit spawns the tp×pp ranks itself; started by
torchrun, srun or mpirun it runs as that one rank. Writes DIR/rank<r>.pt.trace.json.gz,
DIR/rank<r>.log and DIR/manifest.json (see docs/collect.md).

Example (CPU, a few seconds):

    tracekit collect --tp 2 --pp 1 --out runs/tp2
"""


@app.command("collect", help=HELP)
def collect_command(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Folder for traces, logs, manifest: new, empty or an earlier collect's.",
        ),
    ],
    tp: Annotated[int, typer.Option(help="Tensor-parallel degree.")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline-parallel degree (stages).")] = 1,
    model: Annotated[str, typer.Option(help="Shape preset: tiny, llama-3.1-8b, …")] = "tiny",
    layers: Annotated[int | None, typer.Option(help="Override the layer count.")] = None,
    hidden: Annotated[int | None, typer.Option(help="Override the hidden size.")] = None,
    heads: Annotated[int | None, typer.Option(help="Override the attention heads.")] = None,
    kv_heads: Annotated[int | None, typer.Option(help="Override the key/value heads.")] = None,
    intermediate: Annotated[int | None, typer.Option(help="Override the MLP size.")] = None,
    vocab: Annotated[int | None, typer.Option(help="Override the vocabulary size.")] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Local Hugging Face folder (config.json, *.safetensors); no download."),
    ] = None,
    batch: Annotated[int, typer.Option(help="Prompts per batch (requests).")] = 2,
    prompt_len: Annotated[int, typer.Option(help="Prompt tokens per request (Sp).")] = 16,
    gen_len: Annotated[
        int, typer.Option(help="Generated tokens per request (Sd): prefill + Sd-1 decode steps.")
    ] = 8,
    warmup: Annotated[int, typer.Option(help="Unprofiled warm-up generations.")] = 1,
    dtype: Annotated[
        str, typer.Option(help="auto (float32 on CPU, bfloat16 on GPU), or a dtype name.")
    ] = "auto",
    device: Annotated[str, typer.Option(help="auto (GPU if present), cpu or cuda.")] = "auto",
    backend: Annotated[str, typer.Option(help="auto (nccl on GPU), gloo or nccl.")] = "auto",
    profiler: Annotated[str, typer.Option(help="torch, nsys, both or none.")] = "torch",
    seed: Annotated[int, typer.Option(help="Seed of the random weights and prompts.")] = 0,
    logits_collective: Annotated[
        str,
        typer.Option(help="gather (to TP rank 0, the study's) or all_gather (vLLM V1) logits."),
    ] = "gather",
    timeout: Annotated[
        float | None, typer.Option(help="Seconds before a hung run is stopped and reported.")
    ] = None,
    report_grace: Annotated[
        float,
        typer.Option(help="Seconds nsys gets to write its report once a stopped app has exited."),
    ] = REPORT_GRACE_S,
    wait_ranks: Annotated[
        float,
        typer.Option(help="Under a launcher: seconds rank 0 waits for the others' traces."),
    ] = WAIT_RANKS_S,
    dry_run: Annotated[bool, typer.Option(help="Print the rank commands; run nothing.")] = False,
    parquet: Annotated[
        Path | None,
        typer.Option(help="Also convert the run to a Parquet dataset here (on this host)."),
    ] = None,
    nsys: Annotated[bool, typer.Option("--nsys", help="Run CMD (after --) under nsys.")] = False,
    capture_api: Annotated[
        bool, typer.Option(help="With --nsys: record only inside cudaProfilerStart/Stop.")
    ] = False,
    cmd: Annotated[
        list[str] | None, typer.Argument(help="With --nsys: the launch command to wrap.")
    ] = None,
) -> None:
    command_line = ["tracekit", *sys.argv[1:]]
    if nsys:
        result = wrap(
            cmd or [],
            out,
            command_line=command_line,
            tp=tp if tp > 1 or pp > 1 else None,
            pp=pp if tp > 1 or pp > 1 else None,
            capture_api=capture_api,
            timeout_s=timeout,
            report_grace_s=report_grace,
            wait_ranks_s=wait_ranks,
            dry_run=dry_run,
        )
        _report(result, dry_run)
        return
    if cmd:
        raise TracekitError(
            f"unexpected arguments: {' '.join(cmd)}",
            hint="To run your own command under nsys: tracekit collect --nsys --out DIR -- CMD",
        )
    choice(profiler, PROFILERS, "--profiler")
    choice(device, DEVICES, "--device")
    choice(backend, BACKENDS, "--backend")
    choice(dtype, ("auto", *DTYPES), "--dtype")
    overrides = {
        "layers": layers,
        "hidden": hidden,
        "heads": heads,
        "kv_heads": kv_heads,
        "intermediate": intermediate,
        "vocab": vocab,
    }
    workload = CollectSpec(
        tp=tp,
        pp=pp,
        shape=resolve_shape(model, checkpoint, overrides),
        batch=batch,
        prompt_len=prompt_len,
        gen_len=gen_len,
        warmup=warmup,
        dtype=dtype,
        device=device,
        backend=backend,
        profiler=profiler,
        seed=seed,
        checkpoint=checkpoint,
        logits_collective=logits_collective,
    )
    result = collect(
        workload,
        out,
        command_line=command_line,
        timeout_s=timeout,
        report_grace_s=report_grace,
        wait_ranks_s=wait_ranks,
        dry_run=dry_run,
    )
    _report(result, dry_run)
    if parquet is not None and result.manifest is not None:
        from tracekit.ingest.parquet import convert_run

        parts = convert_run(result.out, parquet)
        console.print(f"parquet: {len(parts)} rank partition(s) under {parquet}")


def _report(result: CollectResult, dry_run: bool) -> None:
    if dry_run:
        for line in result.commands:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        return
    manifest = result.manifest
    if manifest is None:
        return
    if not manifest.complete:
        console.print(
            f"[yellow]incomplete[/yellow]: {escape(str(result.out / 'manifest.json'))}",
            soft_wrap=True,
        )
        console.print(manifest.error or "", markup=False, highlight=False, soft_wrap=True)
        return
    # soft_wrap: a pipe gets whole lines (Rich would cut a long path at 80 columns)
    console.print(
        f"[green]complete[/green]: {escape(str(result.out / 'manifest.json'))}", soft_wrap=True
    )
    for row in manifest.latency[:1]:
        console.print(
            f"TTFT {row.ttft_ms:.1f} ms · TPOT {row.tpot_ms:.1f} ms · "
            f"end-to-end {row.e2e_ms:.1f} ms (request 0, measured on rank 0)",
            soft_wrap=True,
        )
    console.print(
        f"next: tracekit import {shlex.quote(str(result.out))}", markup=False, soft_wrap=True
    )
