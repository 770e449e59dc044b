"""`tracekit import`: traces in, one DuckDB database out."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from tracekit import places, store
from tracekit.cli._app import app, console, err_console
from tracekit.errors import InputError, PartialError, TracekitError
from tracekit.ingest.loader import ImportSummary, import_paths
from tracekit.ingest.parquet import export_parquet
from tracekit.render import print_pairs

SCRATCH_DB = "import.duckdb"  # the database an import with --parquet alone goes through


@app.command("import")
def import_command(
    paths: list[Path] = typer.Argument(
        ..., metavar="PATH", help="Trace files and folders (recursive)."
    ),
    db: Path | None = typer.Option(None, "--db", help="DuckDB database to create or add to."),
    parquet: Path | None = typer.Option(
        None,
        "--parquet",
        help="Also (or, without --db, only) write the imported runs as a Parquet dataset: "
        "DIR/<table>/run_id=<run>/rank=<r>/part-0.parquet (docs/parquet.md).",
    ),
    run: str | None = typer.Option(
        None, "--run", help="Run name for all traces (default: the folder each trace sits in)."
    ),
    rank: int | None = typer.Option(
        None,
        "--rank",
        help="Rank of a single trace file (overrides a rank in its name; one that "
        "contradicts its distributedInfo or the manifest is an error).",
    ),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="Import traces already in the database (by content hash) again, each "
        "replacing its run's trace of the same rank and that run's earlier import of the "
        "file; other runs are kept.",
    ),
    rank_map: list[str] | None = typer.Option(
        None,
        "--rank-map",
        help="Nsight Systems reports holding several processes: [REPORT:]PID=RANK[,PID=RANK...]"
        " (repeatable; see docs/nsys.md).",
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Parallel parsers (default: CPU cores)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Import PyTorch-profiler (Kineto) JSON and Nsight Systems exports into DB.

    Every file becomes one rank of a run (an Nsight Systems report: one rank per
    process with GPU work); the whole import is one transaction.

    Example: tracekit import sample_traces/tp2 --db traces.duckdb
    Example: tracekit import /data/job42 --parquet /shared/traces.parquet

    Example: tracekit import job.sqlite --rank-map 'job.sqlite:4711=0,4712=1' --db t.duckdb
    """
    if db is None and parquet is None:
        raise InputError("say where to import to", "Pass --db FILE, --parquet DIR, or both.")
    for path in paths:
        _text_name(path)
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: expected at least 1 parser thread")
    created = None if parquet is None else _dataset_folder(parquet)
    try:
        if db is None:
            assert parquet is not None
            with tempfile.TemporaryDirectory(prefix=".tracekit-", dir=parquet) as scratch:
                places.remove_if_killed(Path(scratch))
                _import(
                    Path(scratch) / SCRATCH_DB,
                    paths,
                    run,
                    rank,
                    replace,
                    workers,
                    quiet,
                    parquet,
                    rank_map,
                )
        else:
            _import(db, paths, run, rank, replace, workers, quiet, parquet, rank_map)
    except BaseException:
        if created is not None:  # a failed import leaves no dataset folder it made
            shutil.rmtree(created, ignore_errors=True)
        raise


def _import(
    db: Path,
    paths: list[Path],
    run: str | None,
    rank: int | None,
    replace: bool,
    workers: int | None,
    quiet: bool,
    parquet: Path | None,
    rank_map: list[str] | None,
) -> None:
    if quiet:
        summary = import_paths(
            db, paths, run=run, rank=rank, replace=replace, workers=workers, rank_map=rank_map
        )
    else:
        with Progress(
            TextColumn("[bold]importing"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=err_console,  # stdout keeps only the summary, no line left by the bar
            transient=True,
            disable=not err_console.is_terminal,
        ) as bar:
            task = bar.add_task("import", total=None)
            done: dict[str, int] = {}
            sizes: dict[str, int] = {}

            def progress(path: str, position: int, size: int) -> None:
                done[path], sizes[path] = position, size
                bar.update(task, completed=sum(done.values()), total=sum(sizes.values()))

            summary = import_paths(
                db,
                paths,
                run=run,
                rank=rank,
                replace=replace,
                workers=workers,
                progress=progress,
                rank_map=rank_map,
            )
        _print_summary(db if parquet is None else parquet, summary)
    if parquet is not None and summary.runs:
        parts = _export(db, parquet, summary.runs, landed=db.name != SCRATCH_DB)
        if not quiet:
            console.print(Text(f"wrote {len(parts)} rank partition(s) under {parquet}"))


def _text_name(path: Path) -> None:
    """Paths are stored as text: a name whose bytes are not UTF-8 cannot be."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError as exc:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        bad = os.fsencode(exc.object[exc.start : exc.end])
        raise InputError(
            f"{shown}: the name is not valid UTF-8 (bytes {bad!r}); "
            "tracekit stores paths and run names as text",
            "Rename the file or folder to a UTF-8 name, then import it.",
        ) from exc


def _dataset_folder(parquet: Path) -> Path | None:
    """Create the dataset folder, or say why it cannot be one; the topmost folder made."""
    if parquet.exists() and not parquet.is_dir():
        raise InputError(
            f"{parquet}: a file, not a folder for the Parquet dataset",
            "--parquet names a folder (new, or one an earlier --parquet wrote).",
        )
    top = next((p for p in [parquet, *parquet.parents] if p.parent.exists()), parquet)
    created = None if parquet.exists() else top
    try:
        parquet.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{parquet}: cannot create the dataset folder ({exc.strerror})") from exc
    return created


def _export(db: Path, parquet: Path, runs: list[str], *, landed: bool) -> list[tuple[str, int]]:
    """Write ``runs`` of ``db`` as Parquet; when ``landed`` a failure says the import stays."""
    try:
        with store.open(db, read_only=False) as con:
            return export_parquet(con, parquet, runs)
    except TracekitError as exc:
        if not landed:
            raise
        raise PartialError(
            f"{db}: imported run(s) {', '.join(runs)}, but writing the Parquet dataset failed: "
            f"{exc.message}",
            "The database holds the import. Write the dataset again with the same command "
            "and --replace.",
        ) from exc


def _print_summary(db: Path, s: ImportSummary) -> None:
    rows = []
    if s.traces:
        rows = [
            ("runs", ", ".join(s.runs) or "-"),
            ("traces", f"{s.traces:,}"),
            ("ranks", f"{s.ranks:,}"),
            ("events", f"{s.events:,}"),
            ("kernels", f"{s.kernels:,}"),
            ("communication ops", f"{s.comm_ops:,}"),
            ("time span", f"{s.span_ns / 1e6:,.3f} ms"),
        ]
    rows += [(f"warning: {what}", f"{count:,}") for what, count in s.warnings]
    if s.skipped:
        rows.append(("skipped (already imported)", _files(s.skipped)))
    title = f"imported into {db}" if s.traces else f"nothing new imported into {db}"
    print_pairs(console, rows, title=title)


def _files(paths: list[str]) -> str:
    """One path as it is; several as their count and the folder that holds them all."""
    if len(paths) == 1:
        return paths[0]
    return f"{len(paths):,} files under {os.path.commonpath(paths)} (--replace imports them again)"
