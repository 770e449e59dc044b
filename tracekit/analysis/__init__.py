"""Analysis API: functions that take a DuckDB connection and keyword arguments and return
Polars DataFrames built from the views in ``queries/views``. They never print; the CLI
(``tracekit report``) and the TUI render what they return.
"""

from tracekit.analysis.comm import (
    collective_instances,
    collective_participants,
    comm_summary,
    rank_skew,
    top_collectives,
)
from tracekit.analysis.timing import latency, overlap, runs, temporal_breakdown, timeline

__all__ = [
    "collective_instances",
    "collective_participants",
    "comm_summary",
    "latency",
    "overlap",
    "rank_skew",
    "runs",
    "temporal_breakdown",
    "timeline",
    "top_collectives",
]
