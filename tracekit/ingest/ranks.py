"""Which rank each trace is: decided here, and only here, once its reader is done.

In order, a trace's rank is what ``--rank-map`` gives its process (nsys), what
the trace states itself (Kineto ``distributedInfo.rank``; the ``RANK`` of an
nsys report's environment), what the run's collect manifest gives its file,
``--rank`` (a single file only), and last a rank number in the file name.
Two of these that disagree (other than the file name, which ``--rank``
overrides) are an error, as is a value that is not a rank: not a whole number
in 0 … 2^31 − 1, or not below the world size the same trace states.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tracekit.collect import MANIFEST_NAME
from tracekit.errors import InputError
from tracekit.ingest.contract import Claim, ParsedTrace

MAX_RANK = (1 << 31) - 1  # traces.rank and runs.world_size are INTEGER
_DECIMAL = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also takes '²'
_RANK_IN_NAME = re.compile(r"(?:rank|worker)[-_.]?([0-9]+)", re.IGNORECASE)

RankMap = dict[tuple[str | None, int], int]


@dataclass(frozen=True)
class Placement:
    """A trace's rank, where it came from (``traces.rank_source``), its stated world size."""

    rank: int
    rank_source: str
    world_size: int | None


def parse_rank_map(specs: list[str] | None) -> RankMap:
    """Parse ``[REPORT:]PID=RANK[,PID=RANK...]`` specs into {(report name or None, pid): rank}.

    REPORT is a file name (``run1.sqlite``) or its stem; without it the pairs
    apply to every report of the import.
    """
    mapping: RankMap = {}
    for spec in specs or []:
        report, _, pairs = spec.rpartition(":")
        for pair in pairs.split(","):
            pid, eq, rank = (part.strip() for part in pair.partition("="))
            if not eq or not _DECIMAL.fullmatch(pid) or not _DECIMAL.fullmatch(rank):
                raise InputError(
                    f"--rank-map {spec!r}: expected [REPORT:]PID=RANK[,PID=RANK...]",
                    "Example: --rank-map 'job.sqlite:4711=0,4712=1'",
                )
            if int(rank) > MAX_RANK:
                raise InputError(
                    f"--rank-map {spec!r}: rank {rank} is out of range",
                    f"A rank is a whole number from 0 to {MAX_RANK}.",
                )
            mapping[(report or None, int(pid))] = int(rank)
    return mapping


def _names(report: Path) -> tuple[str, str]:
    """How a --rank-map entry may name ``report``: its file name or its stem."""
    return report.name, report.name.rsplit(".", 1)[0]


def _mapped_rank(mapping: RankMap, report: Path, pid: int) -> int | None:
    for key in (*_names(report), None):
        if (key, pid) in mapping:
            return mapping[(key, pid)]
    return None


def check_rank_option(rank: int | None, files: int) -> None:
    """``--rank`` names the rank of one file, and must be a rank."""
    if rank is None:
        return
    if not 0 <= rank <= MAX_RANK:
        raise InputError(
            f"--rank {rank}: out of range",
            f"A rank is a whole number from 0 to {MAX_RANK}.",
        )
    if files != 1:
        raise InputError("--rank applies to a single trace file", "Import the others separately.")


def place(traces: list[ParsedTrace], rank_option: int | None, rank_map: RankMap) -> list[Placement]:
    """The rank of each trace (see the module's docstring); one per trace, in order."""
    by_source: dict[Path, list[ParsedTrace]] = {}
    for trace in traces:
        by_source.setdefault(trace.source.path, []).append(trace)
    for path, siblings in by_source.items():
        _check_pids(path, siblings, rank_map)
    placements = []
    for trace in traces:
        several = len(by_source[trace.source.path]) > 1
        placement = _place(trace, rank_option, rank_map, several)
        if placement is None:
            _unplaced(trace, by_source[trace.source.path])
        placements.append(placement)
    seen: dict[tuple[str, int], ParsedTrace] = {}
    for trace, placement in zip(traces, placements, strict=True):
        key = (trace.source.run, placement.rank)
        if key in seen:
            raise InputError(
                f"{trace.source.path}: rank {placement.rank} of run {key[0]!r} is claimed twice "
                f"(also by {seen[key].source.path})",
                "Import the runs separately with --run NAME, or fix the rank.",
            )
        seen[key] = trace
    return placements


def _place(
    trace: ParsedTrace,
    rank_option: int | None,
    rank_map: RankMap,
    several: bool,
) -> Placement | None:
    path = trace.source.path
    world = _number(path, trace.world_size, low=1)
    claims: list[tuple[int, str, str]] = []  # (rank, rank_source, where it is said)
    if trace.process_id is not None:
        mapped = _mapped_rank(rank_map, path, trace.process_id)
        if mapped is not None:
            claims.append((mapped, "option", f"--rank-map (pid {trace.process_id})"))
    elif trace.source.format == "kineto" and any(name in _names(path) for name, _ in rank_map):
        raise InputError(
            f"{path}: --rank-map names this file, a PyTorch-profiler trace: --rank-map maps "
            "the processes of an Nsight Systems report",
            "Give the rank of a single trace with --rank N (a Kineto trace's "
            "distributedInfo.rank needs neither).",
        )
    own = _number(path, trace.rank, low=0)
    if own is not None and trace.rank is not None:
        if world is not None and own >= world and trace.world_size is not None:
            raise InputError(
                f"{path}: {trace.rank.field}={own} is not below {trace.world_size.field}={world} "
                f"{trace.rank.where}".rstrip(),
                "Fix the trace's rank or world size (ranks count from 0), or give the rank "
                "with --rank.",
            )
        claims.append((own, trace.rank.source, trace.rank.label))
    if not several:
        listed = trace.source.manifest.rank_of(path.name) if trace.source.manifest else None
        if listed is not None:
            claims.append((listed, "manifest", f"{MANIFEST_NAME} beside it"))
        if rank_option is not None:
            claims.append((rank_option, "option", "--rank"))
    for rank, _source, where in claims[1:]:
        if rank != claims[0][0]:
            raise InputError(
                f"{path}: conflicting ranks: {claims[0][2]} says {claims[0][0]}, "
                f"{where} says {rank}",
                "Drop the option that disagrees, or fix the trace or its manifest.json.",
            )
    if not claims and not several:
        found = _RANK_IN_NAME.findall(path.name)
        if found:
            named = Claim(int(found[-1]), "the file name's rank", "filename")
            claims.append((_number(path, named, low=0), "filename", named.field))
    if not claims:
        return None
    return Placement(claims[0][0], claims[0][1], world)


def _number(path: Path, claim: Claim | None, *, low: int) -> int | None:
    """A claimed rank or world size as an int: a whole number (decimal text too) in range."""
    if claim is None or claim.value is None:
        return None
    value = claim.value
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_RANK:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise InputError(
            f"{path}: {claim.field}={shown} {claim.where}".rstrip()
            + f": not a whole number from {low} to {MAX_RANK}",
            "Fix that value in the trace, or remove it and give the rank with --rank "
            "(or --rank-map for an Nsight Systems report).",
        )
    return value


def _check_pids(path: Path, siblings: list[ParsedTrace], rank_map: RankMap) -> None:
    """A --rank-map entry naming this report must name one of its GPU processes."""
    pids = {t.process_id for t in siblings}
    unknown = sorted(pid for name, pid in rank_map if name in _names(path) and pid not in pids)
    if unknown and siblings[0].source.format == "nsys":
        held = ", ".join(f"pid {pid}" for pid in sorted(p for p in pids if p is not None))
        raise InputError(
            f"{path}: --rank-map names pid {', '.join(map(str, unknown))}, which this report "
            f"does not hold (its processes with GPU work: {held or 'none with a pid'})",
            "Map the processes the report holds: --rank-map 'REPORT:PID=RANK,...'.",
        )


def _unplaced(trace: ParsedTrace, siblings: list[ParsedTrace]) -> None:
    path = trace.source.path
    if len(siblings) == 1:
        raise InputError(
            f"{path}: cannot tell which rank this trace is",
            "It has no distributedInfo and no rank number in its file name; "
            "import it alone with --rank N.",
        )
    listing = ", ".join(
        f"pid {t.process_id if t.process_id is not None else '?'} on GPU "
        + ",".join(map(str, t.source_meta.get("devices", [])))
        for t in siblings
    )
    example = ",".join(
        f"{t.process_id if t.process_id is not None else 0}={i}" for i, t in enumerate(siblings)
    )
    raise InputError(
        f"{path}: the report holds {len(siblings)} processes with GPU work ({listing}) "
        "and does not say which rank each is",
        f"Map them with --rank-map '{path.name}:{example}' (PID=RANK for each).",
    )
