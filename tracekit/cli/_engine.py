"""The options that choose the engine of `tracekit sql` and `tracekit report`, and the
door to Spark they share."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from tracekit.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Engine = Annotated[
    Literal["duckdb", "spark"],
    typer.Option(
        "--engine",
        help="duckdb (a database or a dataset, on this machine) or spark (a Parquet "
        "dataset, on --spark-master; needs `pip install 'tracekit[spark]'` and Java).",
    ),
]
SparkMaster = Annotated[
    str,
    typer.Option("--spark-master", help="Spark master URL for --engine spark (spark://…, yarn)."),
]
SparkConf = Annotated[
    list[str] | None,
    typer.Option("--spark-conf", help="A Spark setting KEY=VALUE for --engine spark (repeat)."),
]


def spark_module() -> ModuleType:
    """``tracekit.spark``, or an InputError where the spark extra is not installed."""
    try:
        return importlib.import_module("tracekit.spark")
    except ImportError as exc:
        raise InputError(
            f"--engine spark needs the spark extra ({exc.name} is not installed)",
            "Install it with `pip install 'tracekit[spark]'` (and Java 17 or later).",
        ) from exc


def spark_views(
    db: Path | None,
    parquet: Path | None,
    master: str,
    conf: list[str] | None,
    only: list[str],
) -> SparkSession:
    """A Spark session holding the dataset ``parquet`` and the views ``only`` with the views
    they read (docs/parquet.md).

    The dataset and the settings are checked before Spark starts (seconds).
    """
    from tracekit.store import dataset

    spark = spark_module()
    if db is not None or parquet is None:
        raise InputError(
            "--engine spark reads a Parquet dataset: pass --parquet DIR (not --db)",
            "Write one with `tracekit import TRACES... --parquet DIR`.",
        )
    root = str(parquet) if spark.is_remote(str(parquet)) else dataset.check_dataset(parquet)
    spark.check_conf(conf or [])
    session = spark.session(master, conf or [])
    spark.register_views(session, root, only=only)
    return session
