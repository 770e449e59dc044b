"""The ``tk:`` annotation ranges every rank records (see docs/collect.md).

Each range is a ``torch.profiler.record_function`` (Kineto) and, when NVTX is
on, an NVTX push/pop range with the identical string (Nsight Systems). Names
start ``tk:`` followed by space-separated ``key=value`` pairs:

- ``tk:step=<k> phase=<prefill|decode>``
- ``tk:stage=<pp_rank>``
- ``tk:layer=<global layer index>``
- ``tk:block=<embedding|attention|mlp|lm_head|pp_send|pp_recv|sample>``
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import torch
from torch.profiler import record_function


class Annotator:
    """Opens ``tk:`` ranges; NVTX ranges are added when ``nvtx`` is true."""

    def __init__(self, nvtx: bool) -> None:
        self.nvtx = nvtx

    @contextmanager
    def range(self, name: str) -> Iterator[None]:
        with record_function(name):
            if not self.nvtx:
                yield
                return
            torch.cuda.nvtx.range_push(name)
            try:
                yield
            finally:
                torch.cuda.nvtx.range_pop()

    def step(self, step: int) -> AbstractContextManager[None]:
        phase = "prefill" if step == 0 else "decode"
        return self.range(f"tk:step={step} phase={phase}")

    def stage(self, pp_rank: int) -> AbstractContextManager[None]:
        return self.range(f"tk:stage={pp_rank}")

    def layer(self, index: int) -> AbstractContextManager[None]:
        return self.range(f"tk:layer={index}")

    def block(self, kind: str) -> AbstractContextManager[None]:
        return self.range(f"tk:block={kind}")
