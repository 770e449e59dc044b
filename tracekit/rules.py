"""The rule tables a user extends: list their rows, add rows from a CSV file, remove them.

The tables (``comm_rules``, ``label_rules``, ``comm_op_aliases``, ``dtype_sizes``) are
defined in ``queries/schema``; shipped rows (``source = 'builtin'``) come from
``queries/rules/*.csv``. A user's rows are checked before they are stored, so a bad row
can never break the views that read the tables: every pattern must compile in DuckDB's
own regular-expression engine (RE2), priorities and sizes must be integers, ids must be
new, label and capture names must be ones the views know, and a hint must be in every name
of the store the pattern matches.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tracekit.errors import InputError

LABEL_KEYS = ("step", "phase", "stage", "layer", "block")
CAPTURES = ("op", "algorithm", "protocol", "reduction", "dtype")


@dataclass(frozen=True)
class RuleTable:
    """A rule table: its row id column, and its required, integer and pattern columns."""

    name: str
    id_column: str
    required: tuple[str, ...]
    integers: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()


TABLES: dict[str, RuleTable] = {
    t.name: t
    for t in (
        RuleTable(
            "comm_rules",
            "rule_id",
            ("rule_id", "priority", "kinds", "pattern", "library"),
            ("priority",),
            ("pattern",),
        ),
        RuleTable(
            "label_rules",
            "rule_id",
            ("rule_id", "priority", "key", "pattern"),
            ("priority",),
            ("pattern",),
        ),
        RuleTable("comm_op_aliases", "alias", ("alias", "op")),
        RuleTable("dtype_sizes", "dtype", ("dtype", "bytes"), ("bytes",)),
    )
}


def table(name: str) -> RuleTable:
    if name not in TABLES:
        raise InputError(f"--table {name}: expected one of {', '.join(TABLES)}")
    return TABLES[name]


def rows(
    con: duckdb.DuckDBPyConnection, name: str, *, user_only: bool = False
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and rows of a rule table, its id column first; the user's rows only with
    ``user_only``."""
    t = table(name)
    where = "WHERE source <> 'builtin'" if user_only else ""
    cur = con.execute(
        f"SELECT {t.id_column}, * EXCLUDE ({t.id_column}) FROM {t.name} {where} ORDER BY ALL"
    )
    return [d[0] for d in cur.description], cur.fetchall()


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _read(path: Path) -> tuple[list[str], list[dict[str, str | None]]]:
    """The rows of a rule CSV file as text (empty fields None), refusing what is not a
    well-formed CSV text file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the rule file ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise InputError(
            f"{path}: not a CSV text file (binary or not UTF-8)",
            "A rule file is UTF-8 CSV text whose header names the table's columns.",
        )
    lines = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row]
    if not lines:
        raise InputError(f"{path}: the rule file is empty", "Its first line names the columns.")
    columns = [c.strip() for c in lines[0]]
    for number, row in enumerate(lines[1:], start=2):
        if len(row) != len(columns):
            raise InputError(
                f"{path}, line {number}: not a well-formed CSV file ({len(row)} fields, "
                f"the header has {len(columns)})",
                'Quote fields that hold commas with ".',
            )
    return columns, [
        {c: (v if v.strip() else None) for c, v in zip(columns, row, strict=True)}
        for row in lines[1:]
    ]


def _check(
    con: duckdb.DuckDBPyConnection, t: RuleTable, path: Path
) -> tuple[list[str], list[dict[str, str | None]]]:
    """The file's columns and rows; its first problem as an InputError naming the file, line,
    field and value."""
    known = [r[0] for r in con.execute(f"DESCRIBE {t.name}").fetchall() if r[0] != "source"]
    columns, records = _read(path)
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise InputError(
            f"{path}: unknown column(s) {', '.join(unknown)} for {t.name}",
            f"Columns of {t.name}: {', '.join(known)}.",
        )
    missing = [c for c in t.required if c not in columns]
    if missing:
        raise InputError(
            f"{path}: the header lacks {', '.join(missing)} for {t.name}",
            f"Required columns of {t.name}: {', '.join(t.required)}.",
        )
    if len(set(columns)) < len(columns):
        raise InputError(f"{path}: a column is named twice in the header")
    existing = {
        r[0]: r[1] for r in con.execute(f"SELECT {t.id_column}, source FROM {t.name}").fetchall()
    }
    seen: set[str | None] = set()
    for line, record in enumerate(records, start=2):
        where = f"{path}, line {line}"
        ident = record[t.id_column]
        if ident in seen or ident in existing:
            owner = "this file" if ident in seen else f"the database ({existing[ident]})"
            raise InputError(
                f"{where}: {t.id_column} {ident!r} is already in {owner}",
                f"Ids are unique: give the row a new {t.id_column}"
                + (
                    "."
                    if ident in seen or existing[ident] == "builtin"
                    else f", or first `tracekit rules remove {ident} --table {t.name}`."
                ),
            )
        seen.add(ident)
        _check_row(con, t, record, where)
    return columns, records


def _check_row(
    con: duckdb.DuckDBPyConnection, t: RuleTable, record: dict[str, str | None], where: str
) -> None:
    for column in t.required:
        if record[column] is None:
            raise InputError(f"{where}: {column} is empty", f"{t.name} needs a {column}.")
    for column in t.integers:
        value = str(record[column]).strip()
        if not (value.lstrip("+-").isdigit() and -(2**31) <= int(value) < 2**31):
            raise InputError(f"{where}: {column} {record[column]!r} is not an integer")
    for column in t.patterns:
        pattern = record[column]
        try:
            con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
        except duckdb.Error as exc:
            raise InputError(
                f"{where}: {column} {pattern!r} is not a valid RE2 regular expression "
                f"({_one_line(exc).removeprefix('Invalid Input Error: ')})",
                "Patterns use RE2 syntax (DuckDB's regexp_matches); nothing was added.",
            ) from exc
    if record.get("hint") is not None:
        _check_hint(con, record, where)
    if t.name == "label_rules" and record["key"] not in LABEL_KEYS:
        raise InputError(
            f"{where}: key {record['key']!r} is not a label", f"Keys: {', '.join(LABEL_KEYS)}."
        )
    captures = [c.strip() for c in (record.get("captures") or "").split(",") if c.strip()]
    unknown = [c for c in captures if c not in CAPTURES]
    if unknown:
        raise InputError(
            f"{where}: captures {', '.join(unknown)} unknown",
            f"Each capture group means one of: {', '.join(CAPTURES)}.",
        )


def _check_hint(con: duckdb.DuckDBPyConnection, record: dict[str, str | None], where: str) -> None:
    """A hint must be in every name its pattern matches: the views skip the pattern for names
    without it, so a wrong hint would silently drop matches. Checked on the store's names."""
    found = con.execute(
        "SELECT name FROM (SELECT DISTINCT name FROM events) "
        "WHERE regexp_matches(name, ?) AND NOT contains(name, ?) ORDER BY name LIMIT 1",
        [record["pattern"], record["hint"]],
    ).fetchall()
    if found:
        raise InputError(
            f"{where}: hint {record['hint']!r} is not in {found[0][0]!r}, which pattern "
            f"{record['pattern']!r} matches",
            "A hint is a substring of every name the pattern matches (it lets the views skip "
            "the pattern for other names); fix it or leave it empty. Nothing was added.",
        )


def add(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> int:
    """Check the rows of ``path`` and append them to rule table ``name``; rows added."""
    t = table(name)
    columns, records = _check(con, t, path)
    names = ", ".join([*columns, "source"])
    marks = ", ".join("?" for _ in range(len(columns) + 1))
    source = str(path.resolve())
    for record in records:
        con.execute(f"INSERT INTO {t.name} ({names}) VALUES ({marks})", [*record.values(), source])
    return len(records)


def remove(con: duckdb.DuckDBPyConnection, name: str, ident: str) -> int:
    """Delete the user's row ``ident`` of rule table ``name`` (shipped rows stay)."""
    t = table(name)
    found = con.execute(f"SELECT source FROM {t.name} WHERE {t.id_column} = ?", [ident]).fetchall()
    if not found:
        user = [
            r[0]
            for r in con.execute(
                f"SELECT {t.id_column} FROM {t.name} WHERE source <> 'builtin' ORDER BY 1"
            ).fetchall()
        ]
        raise InputError(
            f"{t.name}: no rule {ident!r}",
            f"Rules you added: {', '.join(user) or 'none'} (`tracekit rules list --user`).",
        )
    if all(source == "builtin" for (source,) in found):
        raise InputError(
            f"{t.name}: {ident!r} is a shipped rule and cannot be removed",
            "Add a rule of lower priority number to override it.",
        )
    con.execute(f"DELETE FROM {t.name} WHERE {t.id_column} = ? AND source <> 'builtin'", [ident])
    return sum(source != "builtin" for (source,) in found)
