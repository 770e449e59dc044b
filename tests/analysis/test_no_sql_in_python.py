"""No SQL text in tracekit's Python outside queries/ and the few places that must speak
SQL: the importers (tracekit/ingest), the store's door (tracekit/store: opening, the
schema, the read-only guard), the rule tables' own command (tracekit/rules.py) and the
evaluation of queries/macros (tracekit/model/macros.py). Every question is a view or
macro in queries/, asked through the analysis API."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = ("tracekit/ingest/", "tracekit/store/", "tracekit/rules.py", "tracekit/model/macros.py")
# text a user is shown as an example to type (the SQL console's first query)
EXAMPLES = {"tracekit/tui/screens/console.py"}
SQL = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bINSERT INTO\b|\bDELETE FROM\b|\bUPDATE \w+ SET\b|"
    r"\bCREATE (?:OR REPLACE )?(?:TEMP )?(?:TABLE|VIEW|MACRO)\b|\bDESCRIBE \w+",
    re.S,
)


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (help text, not queries)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def sql_strings(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal or f-string in ``source`` that reads as SQL."""
    tree = ast.parse(source)
    skip = docstrings(tree)
    skip |= {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if id(node) in skip:
            continue
        if SQL.search(text):
            hits.append((node.lineno, text))
    return hits


def test_the_detector_finds_sql_and_skips_help() -> None:
    source = (
        '"""Run SELECT * FROM x in the console."""\n'
        'A = "SELECT manifest FROM runs WHERE run_id = ?"\n'
        'B = f"DELETE FROM {t} WHERE id = ?"\n'
        'C = "select a value from the list"\n'
    )
    assert [line for line, _ in sql_strings(source)] == [2, 3]


def test_no_sql_outside_queries_and_the_importers() -> None:
    found = []
    for path in sorted((ROOT / "tracekit").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(ALLOWED) or name in EXAMPLES:
            continue
        found += [f"{name}:{line}: {text[:60]!r}" for line, text in sql_strings(path.read_text())]
    assert not found, "SQL text outside queries/:\n" + "\n".join(found)
