"""Every view's rows on the sample and real traces, dumped and compared between revisions.

A change meant to make the views faster must leave their rows alone. ``dump`` imports each
input (the three sample runs, the four real Kineto folders and the two real nsys exports,
where present) into a store of its own with the tracekit on ``PYTHONPATH``, and writes
every view of each store (public and private) and the timeline macros (each run's whole
span, each rank's lane chart), sorted, as Parquet under OUT; ``compare`` says, per store
and view, whether two dumps hold the same columns (names and types) and the same rows
(EXCEPT ALL both ways)::

    PYTHONPATH=. python benchmarks/view_rows.py dump /tmp/before
    ... change the views ...
    PYTHONPATH=. python benchmarks/view_rows.py dump /tmp/after
    python benchmarks/view_rows.py compare /tmp/before /tmp/after

Exits 1 when some view differs or is missing on one side.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
TRACES = REPO.parent / "shared" / "traces"
RANK_MAP = ["mfu_2gpu_before.sqlite:144=0,145=1", "h100_2gpu_1s.sqlite:111=0,112=1"]


def inputs() -> dict[str, Path]:
    found = {f"sample_{p.name}": p for p in sorted((REPO / "sample_traces").iterdir())}
    found |= {p.name: p for p in sorted((TRACES / "kineto").glob("*")) if p.is_dir()}
    found |= {p.stem: p for p in sorted((TRACES / "nsys").glob("*.sqlite"))}
    return found


def dump(out: Path) -> None:
    from tracekit.ingest.loader import import_paths

    out.mkdir(parents=True, exist_ok=True)
    for label, path in inputs().items():
        db = out / f"{label}.duckdb"
        db.unlink(missing_ok=True)
        # one parser: trace ids follow the order the parsers finish in
        rank_map = RANK_MAP if path.suffix == ".sqlite" else None
        import_paths(db, [path], rank_map=rank_map, workers=1)
        con = duckdb.connect(str(db), read_only=True)
        views = [
            v
            for (v,) in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal "
                "AND schema_name = 'main' ORDER BY view_name"
            ).fetchall()
        ]
        for view in views:
            target = out / label / f"{view}.parquet"
            target.parent.mkdir(exist_ok=True)
            info = f"SELECT name FROM pragma_table_info('{view}')"
            columns = [c for (c,) in con.execute(info).fetchall()]
            # the trace's path stands in for its id
            rows = (
                f"SELECT v.* REPLACE (t.path AS trace_id) FROM {view} v "
                "LEFT JOIN traces t ON t.trace_id = v.trace_id"
                if "trace_id" in columns
                else f"SELECT * FROM {view}"
            )
            frame = con.sql(f"SELECT * FROM ({rows}) ORDER BY ALL").to_arrow_table()
            pq.write_table(frame, target)
        for name, rows in timelines(con).items():
            pq.write_table(rows, out / label / f"{name}.parquet")
        con.close()
        db.unlink()
        print(f"{label}: {len(views)} views")


def timelines(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """The timeline macros over each run's whole span, and every rank's lane chart in 160
    buckets of its own span, sorted."""
    runs = con.execute(
        "SELECT run_id, min(first_ns), max(last_ns) FROM rank_spans GROUP BY run_id"
    ).fetchall()
    ranks = con.execute("SELECT run_id, rank, first_ns, last_ns FROM rank_spans").fetchall()
    islands = [
        con.sql(
            f"SELECT '{run}' AS run_id, * FROM timeline_islands('{run}', {lo}, {hi})"
        ).to_arrow_table()
        for run, lo, hi in runs
    ]
    buckets = [
        con.sql(
            f"SELECT '{run}' AS run_id, {rank} AS rank, * FROM "
            f"timeline_buckets('{run}', {rank}, {lo}, {hi}, {max((hi - lo + 159) // 160, 1)})"
        ).to_arrow_table()
        for run, rank, lo, hi in ranks
    ]
    found = {}
    for name, tables in (("timeline_islands", islands), ("timeline_buckets", buckets)):
        if tables:
            rows = pa.concat_tables(tables)  # noqa: F841 - read by the query below
            found[name] = con.sql("SELECT * FROM rows ORDER BY ALL").to_arrow_table()
    return found


def compare(a: Path, b: Path) -> int:
    con = duckdb.connect()
    bad = 0
    for left in sorted(a.glob("*/*.parquet")):
        right = b / left.parent.name / left.name
        name = f"{left.parent.name}/{left.stem}"
        if not right.exists():
            print(f"{name}: missing in {b}")
            bad += 1
            continue
        schema = "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{}')"
        types = [con.execute(schema.format(side)).fetchall() for side in (left, right)]
        if types[0] != types[1]:
            print(f"{name}: columns or types differ")
            bad += 1
            continue
        q = "SELECT count(*) FROM (SELECT * FROM '{}' EXCEPT ALL SELECT * FROM '{}')"
        extra = con.execute(q.format(left, right)).fetchone()[0]
        missing = con.execute(q.format(right, left)).fetchone()[0]
        if extra or missing:
            print(f"{name}: {extra} rows only in {a}, {missing} only in {b}")
            bad += 1
    for right in sorted(b.glob("*/*.parquet")):
        if not (a / right.parent.name / right.name).exists():
            print(f"{right.parent.name}/{right.stem}: missing in {a}")
            bad += 1
    views = len(list(a.glob("*/*.parquet")))
    print(f"{views} (store, view) dumps compared: {'all equal' if not bad else f'{bad} differ'}")
    return 1 if bad or not views else 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("dump").add_argument("out", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = p.parse_args()
    if args.cmd == "dump":
        dump(args.out)
    else:
        sys.exit(compare(args.a, args.b))


if __name__ == "__main__":
    main()
