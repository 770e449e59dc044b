"""Analysis API: functions that take a DuckDB connection (or cursor) and keyword
arguments and return one :class:`Result` (a Polars frame plus paging) read from the
views and macros of ``queries/views``. They never print; the CLI (``report``,
``validate``), the plots and the TUI render what they return. A database lacking a view
raises :class:`MissingView`.
"""

from tracekit.analysis._query import MissingView, Result, run_sql
from tracekit.analysis.comm import (
    OP_COLUMNS,
    OpFilter,
    collective_instances,
    collective_participants,
    comm_op_phases,
    comm_ops,
    comm_summary,
    instance_of,
    instances_by_skew,
    participants,
    rank_skew,
    top_collectives,
)
from tracekit.analysis.compare import (
    cpu_side_traces,
    run_comm_by_op,
    run_comparison,
    run_manifest,
)
from tracekit.analysis.timing import (
    OVERLAP_KEYS,
    Timeline,
    default_window,
    event_at,
    lanes,
    latency,
    overlap,
    overlap_totals,
    rank_span,
    ranks,
    runs,
    temporal_breakdown,
    timeline,
    timeline_buckets,
)

__all__ = [
    "OP_COLUMNS",
    "OVERLAP_KEYS",
    "MissingView",
    "OpFilter",
    "Result",
    "Timeline",
    "collective_instances",
    "collective_participants",
    "comm_op_phases",
    "comm_ops",
    "cpu_side_traces",
    "comm_summary",
    "default_window",
    "event_at",
    "instance_of",
    "instances_by_skew",
    "lanes",
    "latency",
    "overlap",
    "overlap_totals",
    "participants",
    "rank_skew",
    "rank_span",
    "ranks",
    "run_comm_by_op",
    "run_comparison",
    "run_manifest",
    "run_sql",
    "runs",
    "temporal_breakdown",
    "timeline",
    "timeline_buckets",
    "top_collectives",
]
