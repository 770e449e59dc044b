"""On Spark (local mode) tracekit's views give the same rows as DuckDB over the same Parquet
dataset (the sample traces and every real trace set and nsys export): exact integers,
floats within 1e-9 relative."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.spark.conftest import VIEWS, sources, why_no_spark
from tracekit import store

pytestmark = pytest.mark.skipif(why_no_spark() is not None, reason=str(why_no_spark()))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, repr(v) if isinstance(v, float) else str(v)) for v in row)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
        )
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return type(a) is type(b) and a == b


def _rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(_plain(v) for v in r) for r in rows), key=_key)


def _rounded(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The row with floats cut to 6 significant digits: the order of rows equal within 1e-9."""
    return tuple(float(f"{v:.6g}") if isinstance(v, float) else v for v in row)


@pytest.mark.parametrize("view", VIEWS)
def test_spark_rows_equal_duckdb_rows(view: str, spark: Any, dataset: Path) -> None:
    with store.open(parquet=dataset, read_only=True) as con:
        cur = con.execute(f"SELECT * FROM {view}")
        duck_columns = [d[0] for d in cur.description]
        duck = _rows(cur.fetchall())
    frame = spark.table(view)
    assert frame.columns == duck_columns
    mine = _rows([tuple(r) for r in frame.collect()])
    assert duck, f"{view} is empty on DuckDB: the comparison would prove nothing"
    assert len(mine) == len(duck)
    duck.sort(key=lambda r: _key(_rounded(r)))
    mine.sort(key=lambda r: _key(_rounded(r)))
    for want, got in zip(duck, mine, strict=True):
        bad = [
            (c, w, g) for c, w, g in zip(duck_columns, want, got, strict=True) if not _same(w, g)
        ]
        assert not bad, f"{view}: {bad} in DuckDB row {want} / Spark row {got}"


def test_every_source_is_in_the_comparison(spark: Any, dataset: Path) -> None:
    """Each trace set is its own run in the dataset and has ranks in overlap_by_rank."""
    runs = {r[0] for r in spark.table("overlap_by_rank").select("run_id").distinct().collect()}
    assert runs == {name for name, _ in sources()}
