"""``manifest.json``: what a collected run was. Written by collect and wrap, read by
import (rank of each file, ``runs``, ``rank_layout``) and validate (model and workload).

:class:`Manifest` is the one type for it, with a typed value per section.
:meth:`Manifest.read` validates a file and :meth:`Manifest.from_json` a decoded object
(such as ``runs.manifest``): every problem is an :class:`~tracekit.errors.InputError`
that names the source, the field and what to do. :meth:`Manifest.to_json` gives the
layout docs/collect.md documents. Keys this version does not know are ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, NoReturn

import orjson

from tracekit.collect import MANIFEST_NAME
from tracekit.collect.presets import PRESETS, ModelShape
from tracekit.errors import InputError

__all__ = ["MANIFEST_NAME", "Manifest"]

MANIFEST_VERSION = 1
"""Version of the layout; manifests written before it was recorded are version 1."""
MAX_COUNT = 2**31 - 1
"""Largest rank, degree or token count (the store keeps them in INTEGER columns)."""
SAMPLE_FEEDBACK = ("every_step", "none")
LOGITS_COLLECTIVES = ("gather", "all_gather")
_FILE_NAME = re.compile(r"[^/\\\x00]+")
HINT = (
    "A manifest holds parallel {tp, pp, world_size}, ranks [{rank, tp_rank, pp_rank, host, "
    "device, trace, log}] (one per rank, in rank order), model {name, layers, hidden, ...}, "
    "workload {batch, prompt_len, gen_len} (docs/collect.md). Fix the field, collect the run "
    "again, or move manifest.json aside to import the traces without it."
)


@dataclass(frozen=True)
class ManifestModel:
    """The model that ran: its shape and the dtype of its activations."""

    shape: ModelShape
    dtype: str | None


@dataclass(frozen=True)
class ManifestParallel:
    """The parallel layout: TP×PP degrees (None when unknown, e.g. a wrapped launch)."""

    tp: int | None
    pp: int | None
    world_size: int
    backend: str | None
    layers_per_stage: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ManifestRank:
    """One rank: where it sits, where it ran, and its files (names inside the run folder)."""

    rank: int
    tp_rank: int | None
    pp_rank: int | None
    host: str | None
    device: str | None
    trace: str | None
    log: str | None
    nsys_rep: str | None = None
    nsys_sqlite: str | None = None

    def files(self) -> tuple[str, ...]:
        names = (self.trace, self.log, self.nsys_rep, self.nsys_sqlite)
        return tuple(name for name in names if name is not None)


@dataclass(frozen=True)
class ManifestWorkload:
    """What the built-in workload did (see docs/collect.md)."""

    batch: int
    prompt_len: int
    gen_len: int
    warmup: int | None = None
    seed: int | None = None
    profiler: str | None = None
    checkpoint: str | None = None
    logits_tokens_per_seq: int | None = 1
    sample_feedback: str = "every_step"
    logits_collective: str = "gather"
    """How the last stage's TP ranks combine the logits: 'gather' to TP rank 0 (the
    study's formula) or 'all_gather' (vLLM V1); manifests without it: 'gather'."""


@dataclass(frozen=True)
class Latency:
    """One request's latency as rank 0 measured it, in milliseconds."""

    request: int
    ttft_ms: float
    tpot_ms: float
    e2e_ms: float


@dataclass(frozen=True)
class Versions:
    torch: str | None = None
    cuda: str | None = None
    nccl: str | None = None
    python: str | None = None
    nsys_export: str | None = None  # the export flags used: blobs in, or not (older nsys)


@dataclass(frozen=True)
class Manifest:
    """A collected run: ``mode`` 'workload' (tracekit's decoder) or 'wrap' (a user's launch)."""

    parallel: ManifestParallel
    ranks: tuple[ManifestRank, ...]
    complete: bool | None = None
    error: str | None = None
    mode: str = "workload"
    launcher: str | None = None
    model: ManifestModel | None = None
    workload: ManifestWorkload | None = None
    versions: Versions = Versions()
    latency: tuple[Latency, ...] = ()
    output_tokens: tuple[tuple[int, ...], ...] = ()
    wall_s: float | None = None
    command: str | None = None
    wrapped_command: str | None = None
    created_at: str | None = None
    tracekit_version: str | None = None

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """The manifest in ``path``, validated; InputError naming the file and field if not."""
        try:
            data = orjson.loads(path.read_bytes())
        except OSError as exc:
            raise InputError(f"{path}: cannot read the collect manifest ({exc.strerror})") from exc
        except orjson.JSONDecodeError as exc:
            raise InputError(
                f"{path}: the collect manifest is not valid JSON ({exc})", HINT
            ) from exc
        return cls.from_json(data, str(path))

    @classmethod
    def from_json(cls, data: object, source: str) -> Manifest:
        """Validate a decoded manifest; ``source`` names it in errors (a path, a run)."""
        return _ManifestReader(source).manifest(data)

    def write(self, folder: Path) -> Path:
        path = folder / MANIFEST_NAME
        path.write_bytes(orjson.dumps(self.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
        return path

    def to_json(self) -> dict[str, Any]:
        """The documented JSON layout (docs/collect.md)."""
        out: dict[str, Any] = {
            "manifest_version": MANIFEST_VERSION,
            "tracekit_version": self.tracekit_version,
            "command": self.command,
        }
        if self.wrapped_command is not None:
            out["wrapped_command"] = self.wrapped_command
        model = None
        if self.model is not None:
            model = {**asdict(self.model.shape), "dtype": self.model.dtype}
        parallel = asdict(self.parallel)
        if self.parallel.layers_per_stage is None:
            del parallel["layers_per_stage"]
        else:
            parallel["layers_per_stage"] = list(self.parallel.layers_per_stage)
        ranks = []
        for entry in self.ranks:
            row = asdict(entry)
            if entry.nsys_rep is None and entry.nsys_sqlite is None:
                del row["nsys_rep"], row["nsys_sqlite"]
            ranks.append(row)
        out |= {
            "created_at": self.created_at,
            "complete": self.complete,
            "error": self.error,
            "mode": self.mode,
            "launcher": self.launcher,
            "model": model,
            "parallel": parallel,
            "ranks": ranks,
            "workload": None if self.workload is None else asdict(self.workload),
            "versions": asdict(self.versions),
            "latency": [asdict(row) for row in self.latency],
            "output_tokens": [list(tokens) for tokens in self.output_tokens],
            "wall_s": self.wall_s,
        }
        return out

    def redacted(self) -> Manifest:
        """This manifest as the store keeps it: credentials in the command lines and the
        error text (``--api-key sk-…``, ``HF_TOKEN=…``) replaced by ``[redacted]``."""
        from tracekit.secrets import redact  # pyarrow: only an import needs it, not collect

        def clean(text: str | None) -> str | None:
            return None if text is None else redact(text)

        return replace(
            self,
            command=clean(self.command),
            wrapped_command=clean(self.wrapped_command),
            error=clean(self.error),
        )

    def rank_of(self, file_name: str) -> int | None:
        """The rank whose trace, report or export is ``file_name``, if any."""
        for entry in self.ranks:
            if file_name in (entry.trace, entry.nsys_sqlite, entry.nsys_rep):
                return entry.rank
        return None


class _ManifestReader:
    """Builds a :class:`Manifest` from decoded JSON, checking every field it uses."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, problem: str) -> NoReturn:
        subject = f"field `{field}`" if field else "as a whole"
        raise InputError(f"{self.source}: collect manifest {subject} {problem}", HINT)

    def obj(self, value: object, field: str) -> Mapping[str, Any]:
        if value is None:
            self.fail(field, "is missing")
        if not isinstance(value, dict):
            self.fail(field, f"must be a JSON object, not {_kind(value)}")
        return value

    def seq(self, value: object, field: str) -> Sequence[Any]:
        if value is None:
            self.fail(field, "is missing")
        if not isinstance(value, list):
            self.fail(field, f"must be a JSON array, not {_kind(value)}")
        return value

    def integer(self, value: object, field: str, minimum: int = 0, optional: bool = False) -> Any:
        if value is None and optional:
            return None
        if value is None:
            self.fail(field, "is missing")
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(field, f"must be a whole number ≥ {minimum}, not {_kind(value)}")
        if not minimum <= value <= MAX_COUNT:
            self.fail(field, f"is {_short(value)}, out of range ({minimum} to {MAX_COUNT})")
        return value

    def number(self, value: object, field: str, optional: bool = False) -> Any:
        if value is None and optional:
            return None
        if value is None:
            self.fail(field, "is missing")
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.fail(field, f"must be a number, not {_kind(value)}")
        if not math.isfinite(value) or not 0 <= value <= 1e15:
            self.fail(field, f"is {_short(value)}, out of range (0 to 1e15)")
        return float(value)

    def text(self, value: object, field: str) -> Any:
        if value is not None and not isinstance(value, str):
            self.fail(field, f"must be a string or null, not {_kind(value)}")
        return value

    def choice(self, workload: dict, key: str, allowed: tuple[str, ...]) -> str:
        """``workload[key]``, one of ``allowed``; the first of them when absent."""
        field = f"workload.{key}"
        value = self.text(workload.get(key), field) or allowed[0]
        if value not in allowed:
            self.fail(field, f"is {_short(value)}, not one of {', '.join(allowed)}")
        return value

    def file(self, value: object, field: str) -> Any:
        name = self.text(value, field)
        if name is not None and (not _FILE_NAME.fullmatch(name) or name in (".", "..")):
            self.fail(field, f"must be a file name inside the run folder, not {_short(name)}")
        return name

    def manifest(self, data: object) -> Manifest:
        top = self.obj(data, "")
        version = top.get("manifest_version", MANIFEST_VERSION)
        if version != MANIFEST_VERSION or isinstance(version, bool):
            self.fail(
                "manifest_version",
                f"is {_short(version)}; this tracekit reads version {MANIFEST_VERSION} "
                "(a newer tracekit wrote it? upgrade tracekit)",
            )
        complete = top.get("complete")
        if complete is not None and not isinstance(complete, bool):
            self.fail("complete", f"must be true or false, not {_kind(complete)}")
        model = None if top.get("model") is None else self.model(top["model"], top.get("dtype"))
        parallel = self.parallel(top.get("parallel"), model)
        versions = self.obj(top.get("versions") or {}, "versions")
        return Manifest(
            parallel=parallel,
            ranks=self.ranks(top.get("ranks"), parallel),
            complete=complete,
            error=self.text(top.get("error"), "error"),
            mode=self.text(top.get("mode"), "mode") or "workload",
            launcher=self.text(top.get("launcher"), "launcher"),
            model=model,
            workload=None if top.get("workload") is None else self.workload(top["workload"]),
            versions=Versions(
                **{
                    f.name: self.text(versions.get(f.name), f"versions.{f.name}")
                    for f in fields(Versions)
                }
            ),
            latency=tuple(
                self.latency(row, f"latency[{i}]")
                for i, row in enumerate(self.seq(top.get("latency") or [], "latency"))
            ),
            output_tokens=tuple(
                tuple(
                    self.integer(t, f"output_tokens[{i}][{j}]")
                    for j, t in enumerate(self.seq(row, f"output_tokens[{i}]"))
                )
                for i, row in enumerate(self.seq(top.get("output_tokens") or [], "output_tokens"))
            ),
            wall_s=self.number(top.get("wall_s"), "wall_s", optional=True),
            command=self.text(top.get("command"), "command"),
            wrapped_command=self.text(top.get("wrapped_command"), "wrapped_command"),
            created_at=self.text(top.get("created_at"), "created_at"),
            tracekit_version=self.text(top.get("tracekit_version"), "tracekit_version"),
        )

    def model(self, value: object, top_dtype: object) -> ManifestModel:
        """A shape: every field given, or a preset ``name`` (or a bare name) with overrides."""
        if isinstance(value, str):
            value = {"name": value}
        given = self.obj(value, "model")
        dtype = self.text(top_dtype, "dtype") or self.text(given.get("dtype"), "model.dtype")
        name = self.text(given.get("name"), "model.name")
        shape: dict[str, Any] = {}
        for f in fields(ModelShape):
            if f.name == "name" or given.get(f.name) is None:
                continue
            if f.name in ("rope_theta", "rms_eps"):
                shape[f.name] = self.number(given[f.name], f"model.{f.name}")
            else:
                shape[f.name] = self.integer(given[f.name], f"model.{f.name}", minimum=1)
        missing = [f.name for f in fields(ModelShape) if f.name != "name" and f.name not in shape]
        required = [m for m in missing if m not in ("rope_theta", "rms_eps", "max_positions")]
        if not required and name is not None:
            return ManifestModel(ModelShape(name=name, **shape), dtype)
        preset = PRESETS.get((name or "").lower())
        if preset is None:
            self.fail(
                "model",
                f"lacks {', '.join(required)} and names no preset ({_short(name)}); "
                f"presets: {', '.join(PRESETS)}",
            )
        return ManifestModel(preset.with_overrides(**shape), dtype)

    def parallel(self, value: object, model: ManifestModel | None) -> ManifestParallel:
        given = self.obj(value, "parallel")
        tp = self.integer(given.get("tp"), "parallel.tp", minimum=1, optional=True)
        pp = self.integer(given.get("pp"), "parallel.pp", minimum=1, optional=True)
        world = self.integer(given.get("world_size"), "parallel.world_size", minimum=1)
        if tp is not None and pp is not None and tp * pp != world:
            self.fail("parallel.world_size", f"is {world}, but tp {tp} × pp {pp} = {tp * pp}")
        layers = given.get("layers_per_stage")
        per_stage = None
        if layers is not None:
            field = "parallel.layers_per_stage"
            per_stage = tuple(
                self.integer(n, f"{field}[{i}]") for i, n in enumerate(self.seq(layers, field))
            )
            if pp is not None and len(per_stage) != pp:
                self.fail(field, f"has {len(per_stage)} stages, but pp is {pp}")
            if model is not None and sum(per_stage) != model.shape.layers:
                self.fail(
                    field, f"adds up to {sum(per_stage)} layers, the model has {model.shape.layers}"
                )
        backend = self.text(given.get("backend"), "parallel.backend")
        return ManifestParallel(tp, pp, world, backend, per_stage)

    def ranks(self, value: object, parallel: ManifestParallel) -> tuple[ManifestRank, ...]:
        rows = self.seq(value, "ranks")
        if len(rows) != parallel.world_size:
            self.fail(
                "ranks",
                f"has {len(rows)} entries, but parallel.world_size is {parallel.world_size}",
            )
        out = []
        for i, row in enumerate(rows):
            field = f"ranks[{i}]"
            entry = self.obj(row, field)
            rank = self.integer(entry.get("rank"), f"{field}.rank")
            if rank != i:
                self.fail(f"{field}.rank", f"is {rank}; entries must list ranks 0, 1, … in order")
            coords = {}
            expected = (None, None) if parallel.tp is None else divmod(rank, parallel.tp)[::-1]
            for key, want in zip(("tp_rank", "pp_rank"), expected, strict=True):
                got = self.integer(entry.get(key), f"{field}.{key}", optional=True)
                if got is not None and want is not None and got != want:
                    self.fail(
                        f"{field}.{key}",
                        f"is {got}, but rank {rank} with tp {parallel.tp} has {key} {want}",
                    )
                coords[key] = got
            out.append(
                ManifestRank(
                    rank=rank,
                    **coords,
                    host=self.text(entry.get("host"), f"{field}.host"),
                    device=self.text(entry.get("device"), f"{field}.device"),
                    **{
                        key: self.file(entry.get(key), f"{field}.{key}")
                        for key in ("trace", "log", "nsys_rep", "nsys_sqlite")
                    },
                )
            )
        return tuple(out)

    def workload(self, value: object) -> ManifestWorkload:
        given = self.obj(value, "workload")
        feedback = self.choice(given, "sample_feedback", SAMPLE_FEEDBACK)
        logits = given.get("logits_tokens_per_seq", 1)
        combine = self.choice(given, "logits_collective", LOGITS_COLLECTIVES)
        return ManifestWorkload(
            batch=self.integer(given.get("batch"), "workload.batch", minimum=1),
            prompt_len=self.integer(given.get("prompt_len"), "workload.prompt_len", minimum=1),
            gen_len=self.integer(given.get("gen_len"), "workload.gen_len", minimum=1),
            warmup=self.integer(given.get("warmup"), "workload.warmup", optional=True),
            seed=self.integer(given.get("seed"), "workload.seed", optional=True),
            profiler=self.text(given.get("profiler"), "workload.profiler"),
            checkpoint=self.text(given.get("checkpoint"), "workload.checkpoint"),
            logits_tokens_per_seq=self.integer(
                logits, "workload.logits_tokens_per_seq", minimum=1, optional=True
            ),
            sample_feedback=feedback,
            logits_collective=combine,
        )

    def latency(self, value: object, field: str) -> Latency:
        row = self.obj(value, field)
        return Latency(
            request=self.integer(row.get("request"), f"{field}.request"),
            **{
                k: self.number(row.get(k), f"{field}.{k}") for k in ("ttft_ms", "tpot_ms", "e2e_ms")
            },
        )


def _kind(value: object) -> str:
    if value is None:
        return "missing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    names = {dict: "an object", list: "an array", str: "a string", int: "the number"}
    names[float] = "the number"
    return f"{names.get(type(value), type(value).__name__)} {_short(value)}"


def _short(value: object) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, int) else str(value)
    return text if len(text) <= 40 else text[:37] + "…"
