"""`tracekit rules`: show and extend the communication rule table of a database."""

from __future__ import annotations

from pathlib import Path

import typer

from tracekit import store
from tracekit.cli._app import app, console
from tracekit.errors import InputError
from tracekit.render import print_table

rules_app = typer.Typer(help="Show or extend the rule tables (what counts as communication).")
app.add_typer(rules_app, name="rules")

TABLES = ("comm_rules", "comm_op_aliases", "dtype_sizes")


@rules_app.command("list")
def list_rules(
    db: Path = typer.Option(..., "--db", help="tracekit DuckDB database."),
    table: str = typer.Option("comm_rules", "--table", help=" | ".join(TABLES)),
) -> None:
    """Print a rule table.

    Example: tracekit rules list --db traces.duckdb
    """
    if table not in TABLES:
        raise InputError(f"--table {table}: expected one of {', '.join(TABLES)}")
    with store.open(db, read_only=True) as con:
        cursor = con.execute(f"SELECT * FROM {table} ORDER BY ALL")
        columns = [d[0] for d in cursor.description]
        print_table(console, columns, cursor.fetchall(), title=table)


@rules_app.command("add")
def add_rules(
    file: Path = typer.Argument(..., help="CSV file whose header names the table's columns."),
    db: Path = typer.Option(..., "--db", help="tracekit DuckDB database."),
    table: str = typer.Option("comm_rules", "--table", help=" | ".join(TABLES)),
) -> None:
    """Add rows from a CSV file to a rule table; views pick them up at once.

    comm_rules columns: rule_id, priority, kinds, pattern, library, op, captures, note,
    and optionally hint (a substring every matching name contains: a fast pre-check).

    Example: tracekit rules add my_rules.csv --db traces.duckdb
    """
    if table not in TABLES:
        raise InputError(f"--table {table}: expected one of {', '.join(TABLES)}")
    with store.open(db, read_only=False) as con:
        added = store.load_rule_file(con, table, file, source=str(file.resolve()))
    console.print(f"added {added} row(s) to {table} from {file}")
