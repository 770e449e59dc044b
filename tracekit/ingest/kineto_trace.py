"""The Kineto reader under the reader contract: one :class:`ParsedTrace` per file.

:func:`tracekit.ingest.kineto.read_kineto` streams the events; the metadata
around the ``traceEvents`` array describes the trace once the last chunk is
read, since PyTorch writes some keys (``traceName``, ``baseTimeNanoseconds``)
after the array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tracekit.errors import InputError
from tracekit.ingest.contract import Claim, EventChunk, ParsedTrace, Source
from tracekit.ingest.kineto import read_kineto
from tracekit.ingest.kineto_parse import KinetoChunk, ParserPool

KEPT_KINETO_META = (
    "schemaVersion",
    "traceName",
    "displayTimeUnit",
    "baseTimeNanoseconds",
    "record_shapes",
    "trace_id",
)


def read_kineto_trace(
    source: Source, sha256: str, on_progress: Callable[[int], None], *, pool: ParserPool
) -> list[ParsedTrace]:
    """The trace in the Kineto file ``source``; its pieces are parsed by ``pool``."""
    meta, chunks = read_kineto(source.path, on_progress=on_progress, pool=pool)
    trace = ParsedTrace(source=source, sha256=sha256)
    trace.chunks = _stream(trace, meta, chunks)
    return [trace]


def _stream(
    trace: ParsedTrace, meta: dict[str, Any], chunks: Iterator[KinetoChunk]
) -> Iterator[EventChunk]:
    for chunk in chunks:
        trace.warnings.update(chunk.warnings)
        yield EventChunk(
            chunk.events, chunk.rows, chunk.low, chunk.high, chunk.threads, chunk.events.close
        )
    _describe(trace, meta)  # read_kineto has merged the keys after the array into meta


def _describe(trace: ParsedTrace, meta: dict[str, Any]) -> None:
    """Fill ``trace`` from the file's complete top-level metadata."""
    path = trace.source.path
    dist = _typed(path, meta, "distributedInfo", dict, "an object") or {}
    devices = _typed(path, meta, "deviceProperties", list, "a list") or []
    if "rank" in dist:
        trace.rank = Claim(dist["rank"], "distributedInfo.rank", "distributedInfo")
    if dist.get("world_size") is not None:
        trace.world_size = Claim(dist["world_size"], "distributedInfo.world_size", "")
    trace.backend = _typed(path, dist, "backend", str, "a string", "distributedInfo.backend")
    trace.host = _typed(path, meta, "host_name", str, "a string")
    trace.gpu_names = [d["name"] for d in devices if isinstance(d, dict) and d.get("name")]
    trace.process_groups = dist.get("pg_config")
    trace.source_meta = {k: meta[k] for k in KEPT_KINETO_META if k in meta}
    if dist.get("nccl_version"):
        trace.source_meta["nccl_version"] = dist["nccl_version"]


def _typed(
    path: Path, meta: dict[str, Any], key: str, kind: type, what: str, name: str = ""
) -> Any:
    """``meta[key]`` if it is None or of type ``kind``; ``name`` is how messages call it."""
    value = meta.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise InputError(
            f"{path}: `{name or key}` is {type(value).__name__} {_short(value)}, expected {what}",
            f"Fix or remove that key; PyTorch's profiler writes it as {what}.",
        )
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
