"""Real collect runs shared by the tests: TP2, PP2 and TP2×PP2 on CPU with gloo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracekit.collect.runner import CollectSpec, collect, resolve_shape

LAYOUTS = {"tp2": (2, 1), "pp2": (1, 2), "tp2pp2": (2, 2)}


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("torch")
    base = tmp_path_factory.mktemp("collect")
    shape = resolve_shape("tiny", None, {})
    out = {}
    for name, (tp, pp) in LAYOUTS.items():
        workload = CollectSpec(tp=tp, pp=pp, shape=shape, batch=2, prompt_len=8, gen_len=4)
        collect(workload, base / name, command_line=["test", name], timeout_s=120)
        out[name] = base / name
    return out
