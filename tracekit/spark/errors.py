"""The error of a SQL construct the Spark translation does not cover."""

from __future__ import annotations


class UnsupportedSQL(ValueError):
    """A construct of the DuckDB SQL that has no Spark rewrite here."""
