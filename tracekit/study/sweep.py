"""``tracekit study``: collect every layout of a sweep and import each into one store.

Every point of the sweep (a TP x PP layout with TP x PP = the GPU count, for each batch,
prompt and output length asked for) is one ``tracekit collect`` into ``DIR/runs/<name>``
and one import into ``DIR/study.duckdb`` as run ``<name>``. A point whose run is already
in the store is skipped, so running the same study again resumes it; a point whose
collect or import fails is reported and the others still run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tracekit import store
from tracekit.analysis import runs
from tracekit.collect.presets import ModelShape
from tracekit.collect.runner import CollectSpec, collect
from tracekit.errors import InputError, TracekitError
from tracekit.ingest.loader import import_paths

DB_NAME = "study.duckdb"
_LAYOUT = re.compile(r"(?:tp(\d+))?(?:pp(\d+))?")


@dataclass(frozen=True)
class Point:
    """One run of the study: a layout and a workload."""

    tp: int
    pp: int
    batch: int
    prompt_len: int
    gen_len: int

    @property
    def name(self) -> str:
        return f"tp{self.tp}pp{self.pp}-b{self.batch}-p{self.prompt_len}-g{self.gen_len}"


@dataclass(frozen=True)
class Outcome:
    """What became of one point: 'done' (collected and imported now), 'skipped' (already
    in the store) or 'failed' (``error`` says why)."""

    point: Point
    status: str
    error: str | None = None


def parse_layouts(text: str | None, gpus: int) -> list[tuple[int, int]]:
    """``tp4,pp4,tp2pp2`` as (tp, pp) pairs; None: every TP x PP = ``gpus``, TP first."""
    if gpus < 1:
        raise InputError(f"--gpus {gpus}: expected at least 1")
    if text is None:
        return [(gpus // pp, pp) for pp in range(1, gpus + 1) if gpus % pp == 0]
    layouts = []
    for word in text.lower().split(","):
        found = _LAYOUT.fullmatch(word.strip())
        if not word.strip() or found is None:
            raise InputError(
                f"--layouts: {word!r} is not a layout",
                "Write layouts as tp<T>, pp<P> or tp<T>pp<P>, e.g. --layouts tp4,pp4,tp2pp2.",
            )
        tp, pp = int(found.group(1) or 1), int(found.group(2) or 1)
        if tp * pp != gpus:
            raise InputError(
                f"--layouts: {word} uses {tp * pp} GPUs, not --gpus {gpus}",
                "Every layout of a study runs on the same GPU count: TP x PP = --gpus.",
            )
        layouts.append((tp, pp))
    return list(dict.fromkeys(layouts))


def parse_ints(text: str, option: str) -> list[int]:
    """A comma-separated list of whole numbers of at least 1 (``--gen-len 3,6``)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise InputError(
            f"{option} {text}: expected whole numbers of at least 1, comma-separated (e.g. 3,6)"
        )
    return list(dict.fromkeys(values))


def plan(
    layouts: Sequence[tuple[int, int]],
    batches: Sequence[int],
    prompt_lens: Sequence[int],
    gen_lens: Sequence[int],
) -> list[Point]:
    """Every combination, layout by layout."""
    return [
        Point(tp, pp, b, p, g)
        for tp, pp in layouts
        for b in batches
        for p in prompt_lens
        for g in gen_lens
    ]


def _imported(db: Path) -> set[str]:
    if not db.exists():
        return set()
    with store.open(db, read_only=True) as con:
        return set(runs(con).frame["run_id"].to_list())


def run_study(
    points: Sequence[Point],
    base: CollectSpec,
    out: Path,
    *,
    command_line: Sequence[str],
    timeout_s: float | None = None,
    progress: Callable[[int, Point, str], None] | None = None,
) -> list[Outcome]:
    """Collect and import every point not yet in ``out/study.duckdb``; one outcome each.

    ``base`` gives the model, dtype, device, backend and profiler; ``progress`` is told
    (index, point, 'collecting' | 'importing' | 'skipped') as the study goes.
    """
    db = out / DB_NAME
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"--out {out}: cannot make the study folder there ({exc.strerror})",
            "Pass a new folder, or the folder of an earlier study to resume it.",
        ) from exc
    done = _imported(db)
    outcomes = []
    for index, point in enumerate(points):
        tell = progress or (lambda i, p, what: None)
        if point.name in done:
            tell(index, point, "skipped")
            outcomes.append(Outcome(point, "skipped"))
            continue
        folder = out / "runs" / point.name
        spec = replace(
            base,
            tp=point.tp,
            pp=point.pp,
            batch=point.batch,
            prompt_len=point.prompt_len,
            gen_len=point.gen_len,
        )
        try:
            tell(index, point, "collecting")
            collect(spec, folder, command_line=command_line, timeout_s=timeout_s)
            tell(index, point, "importing")
            import_paths(db, [folder], run=point.name)
        except TracekitError as exc:
            outcomes.append(Outcome(point, "failed", exc.message))
            continue
        outcomes.append(Outcome(point, "done"))
    return outcomes


def study_shape(shape: ModelShape, layouts: Sequence[tuple[int, int]]) -> ModelShape:
    """``shape`` with as few KV heads as every layout's TP degree can split.

    A preset with fewer KV heads than a layout's TP degree (tiny: 2 KV heads, TP4) cannot
    be sharded as it is; vLLM then replicates KV heads. The study instead runs every
    layout with the smallest KV-head count that is a multiple of each TP degree and
    divides the attention heads, so all layouts run the same model. KV heads do not
    enter the communication (the model's prediction depends on layers, hidden size,
    vocabulary and dtype), only the attention's compute.
    """
    need = math.lcm(*(tp for tp, _ in layouts))
    if shape.kv_heads % need == 0:
        return shape
    for kv in range(need, shape.heads + 1, need):
        if shape.heads % kv == 0 and kv >= shape.kv_heads:
            return shape.with_overrides(kv_heads=kv)
    return shape  # collect names what cannot be sharded, layout by layout
