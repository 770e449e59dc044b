"""Regenerate ``sample_traces/``: TP2, PP2 and TP2×PP2 runs of the tiny model on CPU.

    python collectors/make_samples.py [OUT_DIR]

Run from a source checkout with tracekit importable (``pip install -e '.[collect]'``
or ``PYTHONPATH=.``). Each layout is one ``tracekit collect`` run with
``--model tiny --batch 2 --prompt-len 16 --gen-len 4`` into ``OUT_DIR/<layout>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tracekit.collect.runner import CollectSpec, collect, resolve_shape

LAYOUTS = {"tp2": (2, 1), "pp2": (1, 2), "tp2pp2": (2, 2)}


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "sample_traces"
    shape = resolve_shape("tiny", None, {})
    for name, (tp, pp) in LAYOUTS.items():
        workload = CollectSpec(tp=tp, pp=pp, shape=shape, batch=2, prompt_len=16, gen_len=4)
        command = [
            "tracekit", "collect", "--tp", str(tp), "--pp", str(pp), "--batch", "2",
            "--prompt-len", "16", "--gen-len", "4", "--out", f"sample_traces/{name}",
        ]  # fmt: skip
        result = collect(workload, out / name, command_line=command, timeout_s=300)
        print(f"{name}: {result.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
