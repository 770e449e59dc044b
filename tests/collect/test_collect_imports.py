"""The launcher and CLI never import torch: only the rank processes need it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tracekit


def test_core_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import tracekit.cli, tracekit.collect.runner, tracekit.collect.wrap\n"
        "from tracekit.cli import app  # every command module\n"
        "import tracekit.collect.launch_env, tracekit.collect.supervise\n"
        "import tracekit.collect.nsys_cmd, tracekit.collect.manifest\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    root = str(Path(tracekit.__file__).resolve().parent.parent)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": root}
    )
    assert proc.returncode == 0, proc.stderr
