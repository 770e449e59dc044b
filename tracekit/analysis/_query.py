"""Running a view query with optional filters and returning a tidy Polars frame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import polars as pl

from tracekit.errors import InputError


def frame(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence[Any] | None = None,
) -> pl.DataFrame:
    """Run ``sql``; integral decimals (DuckDB sums of BIGINT) come back as Int64."""
    try:
        df = con.sql(sql, params=list(params or [])).pl()
    except duckdb.CatalogException as exc:
        raise InputError(
            f"the database lacks a view this analysis needs ({exc})",
            "Re-open it with this tracekit version: `tracekit import` refreshes the views.",
        ) from exc
    casts = [
        pl.col(name).cast(pl.Int64 if dtype.scale == 0 else pl.Float64)
        for name, dtype in df.schema.items()
        if isinstance(dtype, pl.Decimal)
    ]
    return df.with_columns(casts) if casts else df


def where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """A WHERE clause (possibly empty) for the non-None ``filters`` (column -> value)."""
    used = {k: v for k, v in filters.items() if v is not None}
    if not used:
        return "", []
    return "WHERE " + " AND ".join(f"{k} = ?" for k in used), list(used.values())
