"""`tracekit rules`: list, extend and prune the rule tables of a database."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from rich.text import Text

from tracekit import rules, store
from tracekit.cli._app import Typer, app, console
from tracekit.render import print_table

rules_app = Typer(
    help="""List, extend or prune the rule tables (what counts as communication, how
    annotation ranges become labels, op spellings, dtype sizes).

    Example: tracekit rules list --db traces.duckdb --table comm_rules"""
)
app.add_typer(rules_app, name="rules")

Table = Literal[tuple(rules.TABLES)]  # type: ignore[valid-type]  # --table's choices


@rules_app.command("list")
def list_rules(
    db: Path = typer.Option(..., "--db", help="tracekit DuckDB database."),
    table: Table = typer.Option("comm_rules", "--table", help="The rule table."),
    user: bool = typer.Option(False, "--user", help="Only the rows you added."),
) -> None:
    """Print a rule table, each row's id first (shipped rows have source 'builtin').

    Example: tracekit rules list --db traces.duckdb --table label_rules
    """
    with store.open(db, read_only=True) as con:
        columns, found = rules.rows(con, table, user_only=user)
    print_table(console, columns, found, title=table)


@rules_app.command("add")
def add_rules(
    file: Path = typer.Argument(..., help="CSV file whose header names the table's columns."),
    db: Path = typer.Option(..., "--db", help="tracekit DuckDB database."),
    table: Table = typer.Option("comm_rules", "--table", help="The rule table."),
) -> None:
    """Add rows from a CSV file to a rule table; views pick them up at once.

    comm_rules columns: rule_id, priority, kinds, pattern, library, op, captures, note,
    and optionally hint (a substring every matching name contains: a fast pre-check).
    label_rules columns: rule_id, priority, key (step | phase | stage | layer | block),
    pattern (group 1 = the value), note, and optionally hint. Patterns are RE2 regular
    expressions; a file with any bad row adds nothing.

    Example: tracekit rules add my_rules.csv --db traces.duckdb
    """
    with store.open(db, read_only=False) as con:
        added = rules.add(con, table, file)
    console.print(Text(f"added {added} row(s) to {table} from {file}"))


@rules_app.command("remove")
def remove_rule(
    rule_id: str = typer.Argument(..., help="The id of a row you added (`rules list --user`)."),
    db: Path = typer.Option(..., "--db", help="tracekit DuckDB database."),
    table: Table = typer.Option("comm_rules", "--table", help="The rule table."),
) -> None:
    """Remove a rule you added (shipped rules stay; override them with a lower priority).

    Example: tracekit rules remove my_kernel --db traces.duckdb
    """
    with store.open(db, read_only=False) as con:
        removed = rules.remove(con, table, rule_id)
    console.print(Text(f"removed {removed} row(s) {rule_id!r} from {table}"))
