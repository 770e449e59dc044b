"""``tracekit doctor``: can ``tracekit collect`` run here, and what would it do."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tracekit.cli._app import app, choice, console
from tracekit.collect.doctor import diagnose
from tracekit.collect.runner import DEVICES
from tracekit.errors import TracekitError

HELP = """Print what tracekit collect would find and do on this host, starting no run:
the torch and CUDA versions, GPUs visible, NCCL, gloo, Nsight Systems (path,
version, whether its export takes --include-blobs), the launcher detected
(torchrun, srun, mpirun or none) and the device, backend and profilers collect
would use. Exit 0 when collection can run, 2 with the reason when not.

Example:

    tracekit doctor
"""


@app.command("doctor", help=HELP)
def doctor_command(
    device: Annotated[
        str, typer.Option(help="The --device collect would get: auto, cpu or cuda.")
    ] = "auto",
) -> None:
    choice(device, DEVICES, "--device")
    found = diagnose(os.environ, device)
    width = max(len(key) for key, _ in found.lines)
    for key, value in found.lines:
        console.print(f"{key:<{width}}  {value}", markup=False, highlight=False, soft_wrap=True)
    if found.problem is not None:
        raise TracekitError(
            f"tracekit collect cannot run here: {found.problem}",
            hint="Fix the above and run tracekit doctor again.",
        )
    console.print("collection can run here", markup=False, highlight=False)
