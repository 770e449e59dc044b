"""The reader contract: what every trace format hands the loader.

A reader (:class:`Reader`) takes one :class:`Source` and returns a
:class:`ParsedTrace` per trace it holds (a Kineto file: one; an nsys report:
one per process with GPU work). Its ``chunks`` stream the events; every other
field describes the trace and is final only once ``chunks`` is exhausted: a
reader may still fill them while it streams (Kineto keys written after the
``traceEvents`` array, counts of questionable data it met). The loader reads
them only after the last chunk.

Readers state what a trace says about its rank and world size as
:class:`Claim` values, as written; :mod:`tracekit.ingest.ranks` checks them and
decides each trace's rank, in one place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # loaded only where a folder has a manifest (discover)
    from tracekit.collect.manifest import Manifest


@dataclass(frozen=True)
class Source:
    """One file to import, with what the path alone tells about it."""

    path: Path
    format: str  # 'kineto' | 'nsys'
    run: str
    manifest: Manifest | None


@dataclass(frozen=True)
class Claim:
    """A value a trace states about itself, as written (not yet checked).

    ``field`` names it (``distributedInfo.rank``, ``RANK``) and ``where`` says where
    it is written when the name alone does not, for messages; ``source`` is what
    ``traces.rank_source`` records when the rank comes from it.
    """

    value: object
    field: str
    source: str
    where: str = ""

    @property
    def label(self) -> str:
        return f"{self.field} {self.where}".rstrip()


class ArrowStream(Protocol):
    """Rows DuckDB can read: an object exporting an Arrow C stream (an Arrow table, a
    DuckDB relation's result, ...)."""

    def __arrow_c_stream__(self, requested_schema: object = None) -> object: ...


@dataclass(frozen=True)
class EventChunk:
    """A chunk of one trace's events, read once by the loader's INSERT.

    ``events`` has the columns of ``events`` with ``abs_ns`` in place of ``ts_ns``
    and without ``trace_id``; a column left out is NULL. ``rows`` counts them and
    ``low``/``high`` are their earliest and latest ``abs_ns`` (never NULL; 0 without
    rows). ``threads`` are (pid, tid, name) rows of ``threads``. ``release``, where
    given, frees what holds ``events`` once they are stored.
    """

    events: ArrowStream | None
    rows: int
    low: int
    high: int
    threads: list[tuple[int | None, int | None, str | None]] = field(default_factory=list)
    release: Callable[[], None] | None = None


@dataclass
class ParsedTrace:
    """What a format reader tells about one trace, before it is stored.

    ``chunks`` yields the trace's :class:`EventChunk` values. ``first_ns``
    is the earliest ``abs_ns`` of the trace where the reader knows it before
    its chunks: the rows of a new run then go in relative to its origin at once.

    ``warnings`` counts questionable data the reader accepted, by what it was
    and what was done with it (``"events without ts (dropped)"``); the import
    summary adds them up. Like every field but ``source``, ``sha256``,
    ``chunks`` and ``first_ns``, it is final once ``chunks`` is exhausted.
    """

    source: Source
    sha256: str
    chunks: Iterator[EventChunk] = field(default_factory=lambda: iter(()))
    first_ns: int | None = None
    rank: Claim | None = None
    world_size: Claim | None = None
    backend: str | None = None
    host: str | None = None
    process_id: int | None = None
    gpu_names: list[str] = field(default_factory=list)
    process_groups: Any = None
    source_meta: dict[str, Any] = field(default_factory=dict)
    warnings: Counter[str] = field(default_factory=Counter)


class Reader(Protocol):
    """A trace format's reader: the traces in ``source``, their chunks not yet parsed.

    ``on_progress`` receives how far into the file (bytes on disk) reading has got.
    Bad input raises :class:`tracekit.errors.InputError` naming the file.
    """

    def __call__(
        self, source: Source, sha256: str, on_progress: Callable[[int], None]
    ) -> list[ParsedTrace]: ...
