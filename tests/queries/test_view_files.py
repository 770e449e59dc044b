"""Each SQL file of queries/views and queries/macros defines the public view or macro it is
named after, documented in its header (and, for analyses, in docs/analyses.md), and its
header's `Depends on:` list is exactly what its SQL reads, as DuckDB's own parser sees it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "queries"
FILES = sorted([*(QUERIES / "macros").glob("*.sql"), *(QUERIES / "views").glob("*.sql")])
ANALYSES = sorted((QUERIES / "views").glob("4*.sql")) + sorted((QUERIES / "views").glob("5*.sql"))

_CREATE = re.compile(
    r"CREATE OR REPLACE (VIEW|MACRO) (\w+)\s*(?:\((.*?)\)\s*)?AS\s+(TABLE\s+)?(.*)", re.S
)
_TABLES = re.compile(r"CREATE (?:TABLE|SEQUENCE) IF NOT EXISTS (\w+)")
_PARSER = duckdb.connect()


def _defined(text: str) -> list[str]:
    return re.findall(r"CREATE OR REPLACE (?:VIEW|MACRO) (\w+)", text)


MACROS = {
    name
    for path in FILES
    for name in re.findall(r"CREATE OR REPLACE MACRO (\w+)", path.read_text())
}
KNOWN = (
    MACROS
    | {name for path in FILES for name in _defined(path.read_text())}
    | {n for p in (QUERIES / "schema").glob("*.sql") for n in _TABLES.findall(p.read_text())}
)


def _walk(node: Any, refs: set[str], ctes: set[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE":
            refs.add(node["table_name"])
        elif node.get("type") == "TABLE_FUNCTION" and node["function"]["function_name"] in MACROS:
            refs.add(node["function"]["function_name"])
        elif node.get("class") == "FUNCTION" and node.get("function_name") in MACROS:
            refs.add(node["function_name"])
        if isinstance(node.get("cte_map"), dict):
            ctes.update(entry["key"] for entry in node["cte_map"]["map"])
        for value in node.values():
            _walk(value, refs, ctes)
    elif isinstance(node, list):
        for value in node:
            _walk(value, refs, ctes)


def dependencies(text: str) -> set[str]:
    """Tables, views and macros of the store that a file's statements read (parsed by
    DuckDB: json_serialize_sql of each view's query and macro's body), less what the file
    defines itself."""
    refs: set[str] = set()
    for statement in _PARSER.extract_statements(text):
        match = _CREATE.search(statement.query)
        assert match, f"not a CREATE OR REPLACE VIEW/MACRO: {statement.query[:80]}"
        kind, _, _, table, body = match.groups()
        body = body.rstrip().rstrip(";")
        query = body if kind == "VIEW" or table else f"SELECT ({body})"
        tree = json.loads(_PARSER.execute("SELECT json_serialize_sql(?)", [query]).fetchone()[0])
        assert not tree["error"], tree
        found: set[str] = set()
        ctes: set[str] = set()
        _walk(tree, found, ctes)
        refs |= found - ctes
    return refs - set(_defined(text))


def declared(text: str) -> set[str]:
    """The names of the header's `-- Depends on: a, b, c.` (it may span lines)."""
    header = [line[2:].strip() for line in text.splitlines() if line.startswith("--")]
    start = next(i for i, line in enumerate(header) if line.startswith("Depends on:"))
    words = header[start].removeprefix("Depends on:")
    for line in header[start + 1 :]:
        if words.rstrip().endswith("."):
            break
        words += " " + line
    names = {re.sub(r"\s*\(.*\)$", "", w.strip()) for w in words.strip().rstrip(".").split(",")}
    return set() if names == {"nothing"} else names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_header_lists_exactly_what_the_sql_reads(path: Path) -> None:
    text = path.read_text()
    assert "-- Depends on:" in text
    derived = dependencies(text)
    assert derived <= KNOWN, f"reads objects tracekit does not define: {derived - KNOWN}"
    assert declared(text) == derived


def test_the_derivation_sees_ctes_subqueries_and_macros() -> None:
    sql = (
        "CREATE OR REPLACE VIEW v AS WITH x AS (SELECT * FROM events) "
        "SELECT busbw_factor(op, 2), * FROM x JOIN traces USING (trace_id) "
        "JOIN merged_intervals('x') USING (trace_id) "
        "WHERE EXISTS (SELECT 1 FROM runs);\n"
        "CREATE OR REPLACE MACRO m(a) AS TABLE SELECT * FROM v WHERE rank_coords(a, 2) IS NULL;"
    )
    assert dependencies(sql) == {
        "events",
        "traces",
        "runs",
        "busbw_factor",
        "merged_intervals",
        "rank_coords",
    }
    assert declared("-- Depends on: events,\n--   traces.\n--   x  y") == {"events", "traces"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_one_public_object_named_after_the_file(path: Path) -> None:
    text = path.read_text()
    name = path.stem.split("_", 1)[1]
    defined = _defined(text)
    public = [v for v in defined if v[0] != "_"]
    if public:
        assert public == [name]
        assert text.startswith(f"-- {name}")
    else:  # a private helper, named after the file with a leading underscore
        assert defined[0] == f"_{name}"
        assert text.startswith(f"-- _{name}")


@pytest.mark.parametrize("path", ANALYSES, ids=[p.name for p in ANALYSES])
def test_analyses_are_documented(path: Path) -> None:
    name = path.stem.split("_", 1)[1]
    assert f"`{name}`" in (ROOT / "docs" / "analyses.md").read_text()
