"""Load a local Hugging Face Llama checkpoint (config.json + *.safetensors).

Nothing is downloaded. The safetensors files are memory-mapped and read with
a small parser of the format (8-byte little-endian header length, a JSON
header of name -> dtype, shape, byte offsets, then the raw data), so the
``safetensors`` package is not needed. Only this rank's shards are copied.
"""

from __future__ import annotations

import json
import mmap
import struct
from pathlib import Path

import torch
from llama import WeightSource, shard

from tracekit.collect.presets import ModelShape, shape_from_hf_config

_DTYPES = {
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F64": torch.float64,
}


def read_shape(directory: Path) -> ModelShape:
    return shape_from_hf_config(json.loads((directory / "config.json").read_text()), directory.name)


class _Tensors:
    """name -> (mmap, dtype, shape, begin, end) over every *.safetensors file."""

    def __init__(self, directory: Path) -> None:
        self.entries: dict[str, tuple[mmap.mmap, torch.dtype, list[int], int, int]] = {}
        files = sorted(directory.glob("*.safetensors"))
        if not files:
            raise FileNotFoundError(f"{directory}: no *.safetensors files")
        for path in files:
            with path.open("rb") as fh:
                data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
            (length,) = struct.unpack("<Q", data[:8])
            header = json.loads(data[8 : 8 + length])
            for name, info in header.items():
                if name == "__metadata__":
                    continue
                begin, end = info["data_offsets"]
                base = 8 + length
                dtype = _DTYPES[info["dtype"]]
                self.entries[name] = (data, dtype, info["shape"], base + begin, base + end)

    def get(self, name: str) -> torch.Tensor:
        data, dtype, shape, begin, end = self.entries[name]
        count = (end - begin) // torch.empty((), dtype=dtype).element_size()
        flat = torch.frombuffer(data, dtype=dtype, count=count, offset=begin)
        return flat.view(shape)


def checkpoint_weights(directory: Path, device: torch.device, dtype: torch.dtype) -> WeightSource:
    """Each shard is sliced from the memory-mapped tensor and only it is copied."""
    tensors = _Tensors(directory)

    def load(name: str, shape: tuple[int, ...], dim: int, parts: int, index: int) -> torch.Tensor:
        if name == "lm_head.weight" and name not in tensors.entries:
            name = "model.embed_tokens.weight"
        full = tensors.get(name)
        if tuple(full.shape) != shape:
            raise ValueError(f"{directory}: {name} has shape {tuple(full.shape)}, expected {shape}")
        return shard(full, dim, parts, index).to(device=device, dtype=dtype)

    return load
