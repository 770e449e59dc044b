"""Bad input to `tracekit import` in the loader's classes: ranks and --replace.

Conflicting ranks (two files one rank; an option, the manifest or the file's
distributedInfo disagreeing), ranks and world sizes that are not ranks, rank
options out of range, a --rank-map PID the report does not hold, and
--replace. Every case fails with an InputError naming the file (or option)
and the field, and leaves the database byte-identical; one case per kind goes
through the CLI (exit 2, one paragraph, no traceback).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, cpu, write_kineto
from tests.ingest.nsys_export import two_process_export
from tests.robustness.conftest import assert_clean_failure, digest, tk
from tracekit.errors import InputError
from tracekit.ingest.loader import import_paths

SAMPLES = REPO / "sample_traces"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding run 'job' (ranks 0 and 1 of world size 2), copied per test."""
    root = tmp_path_factory.mktemp("base")
    for rank in (0, 1):
        write_kineto(
            root / "job" / f"rank{rank}.json", [cpu("aten::mm", 10.0 + rank, 5.0)], rank=rank
        )
    import_paths(root / "t.duckdb", [root / "job"])
    return root / "t.duckdb"


@pytest.fixture
def db(base: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "t.duckdb"
    copy.write_bytes(base.read_bytes())
    return copy


def _fails(db: Path, paths: list[Path], *names: str, **options: Any) -> None:
    """The import raises an InputError naming each of ``names``; ``db`` is unchanged."""
    before = digest(db)
    with pytest.raises(InputError) as err:
        import_paths(db, paths, **options)
    text = " ".join(str(err.value).split())
    for name in names:
        assert name in text, f"{name!r} not in: {text}"
    assert digest(db) == before


def _kineto(path: Path, dist: Any, **extra: Any) -> Path:
    doc = {"schemaVersion": 1, "distributedInfo": dist, **extra}
    doc["traceEvents"] = [cpu("aten::mm", 1.0, 1.0)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("dist", "field"),
    [
        ({"rank": -1, "world_size": 2}, "distributedInfo.rank"),
        ({"rank": True, "world_size": 2}, "distributedInfo.rank"),
        ({"rank": 2**40, "world_size": 2}, "distributedInfo.rank"),
        ({"rank": "one", "world_size": 2}, "distributedInfo.rank"),
        ({"rank": 1.5}, "distributedInfo.rank"),
        ({"rank": 0, "world_size": "two"}, "distributedInfo.world_size"),
        ({"rank": 0, "world_size": 0}, "distributedInfo.world_size"),
        ({"rank": 2, "world_size": 2}, "distributedInfo.rank=2 is not below"),
        ([0, 2], "`distributedInfo` is list"),
        ("rank0", "`distributedInfo` is str"),
    ],
)
def test_kineto_rank_fields_that_are_not_ranks(
    db: Path, tmp_path: Path, dist: Any, field: str
) -> None:
    _fails(db, [_kineto(tmp_path / "new" / "trace.json", dist)], "trace.json", field)


def test_device_properties_not_a_list(db: Path, tmp_path: Path) -> None:
    path = _kineto(tmp_path / "new" / "trace.json", {"rank": 0}, deviceProperties=7)
    _fails(db, [path], "trace.json", "`deviceProperties` is int")


def test_rank_in_the_file_name_beyond_an_int32(db: Path, tmp_path: Path) -> None:
    path = write_kineto(tmp_path / "new" / "rank99999999999.json", [cpu("x", 1.0, 1.0)], rank=None)
    _fails(db, [path], "rank99999999999.json", "file name's rank=99999999999", "not a whole number")


def test_two_files_one_rank_through_the_cli(db: Path, tmp_path: Path) -> None:
    write_kineto(tmp_path / "two" / "a.json", [cpu("x", 1.0, 1.0)], rank=1)
    write_kineto(tmp_path / "two" / "b.json", [cpu("y", 1.0, 1.0)], rank=1)
    before = digest(db)
    proc = tk("import", tmp_path / "two", "--db", db)
    assert_clean_failure(proc, "b.json", "rank 1", "claimed twice")
    assert digest(db) == before


def test_rank_option_against_distributed_info(db: Path, tmp_path: Path) -> None:
    path = write_kineto(tmp_path / "new" / "trace.json", [cpu("x", 1.0, 1.0)], rank=1)
    _fails(db, [path], "trace.json", "conflicting ranks", "distributedInfo.rank", "--rank", rank=0)


def test_manifest_against_distributed_info(db: Path, tmp_path: Path) -> None:
    # the collected sample's manifest lists rank0.pt.trace.json.gz as rank 0
    folder = tmp_path / "tp2"
    folder.mkdir()
    (folder / "manifest.json").write_bytes((SAMPLES / "tp2" / "manifest.json").read_bytes())
    path = write_kineto(folder / "rank0.pt.trace.json.gz", [cpu("x", 1.0, 1.0)], rank=1)
    _fails(db, [path], "rank0.pt.trace.json.gz", "conflicting ranks", "manifest.json")


def test_rank_option_out_of_range_through_the_cli(db: Path, tmp_path: Path) -> None:
    path = write_kineto(tmp_path / "new" / "trace.json", [cpu("x", 1.0, 1.0)], rank=None)
    before = digest(db)
    proc = tk("import", path, "--db", db, "--rank", "-1")
    assert_clean_failure(proc, "--rank -1", "out of range")
    assert digest(db) == before


def test_rank_option_beyond_an_int32(db: Path, tmp_path: Path) -> None:
    path = write_kineto(tmp_path / "new" / "trace.json", [cpu("x", 1.0, 1.0)], rank=None)
    _fails(db, [path], f"--rank {2**40}", "out of range", rank=2**40)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("100=²", "expected [REPORT:]PID=RANK"),
        ("100=-1", "expected [REPORT:]PID=RANK"),
        (f"100=0,200={2**40}", "out of range"),
    ],
)
def test_rank_map_values_that_are_not_ranks(
    db: Path, tmp_path: Path, spec: str, message: str
) -> None:
    report = two_process_export().write(tmp_path / "job.sqlite")
    _fails(db, [report], "--rank-map", message, rank_map=[spec])


def _one_process_report(path: Path, environment: str) -> Path:
    export = two_process_export()
    export.kernels = [k for k in export.kernels if k[2] == 0]
    export.environment = environment
    return export.write(path)


@pytest.mark.parametrize(
    ("environment", "field"),
    [
        # (RANK=², RANK beyond an int32 and RANK outside WORLD_SIZE: test_nsys_bad.py)
        ("RANK=1;WORLD_SIZE=two", "WORLD_SIZE='two' in the report's environment"),
        ("RANK=1;WORLD_SIZE=0", "WORLD_SIZE=0 in the report's environment"),
    ],
)
def test_nsys_environment_rank_that_is_not_a_rank(
    db: Path, tmp_path: Path, environment: str, field: str
) -> None:
    report = _one_process_report(tmp_path / "one.sqlite", environment)
    _fails(db, [report], "one.sqlite", field)


def test_rank_map_against_the_environment(db: Path, tmp_path: Path) -> None:
    report = _one_process_report(tmp_path / "one.sqlite", "RANK=3;WORLD_SIZE=8")
    _fails(db, [report], "one.sqlite", "conflicting ranks", "--rank-map", rank_map=["100=2"])


def test_rank_map_for_a_kineto_trace(db: Path, tmp_path: Path) -> None:
    path = write_kineto(tmp_path / "new" / "trace.json", [cpu("x", 1.0, 1.0)], rank=1)
    _fails(db, [path], "trace.json", "--rank-map names this file", rank_map=["trace.json:7=0"])


@pytest.mark.parametrize("export", ["two", "one"])
def test_rank_map_pid_not_in_the_report(db: Path, tmp_path: Path, export: str) -> None:
    report = (
        two_process_export().write(tmp_path / "job.sqlite")
        if export == "two"
        else _one_process_report(tmp_path / "job.sqlite", "WORLD_SIZE=2")
    )
    spec = "job.sqlite:100=0,300=1"
    _fails(db, [report], "job.sqlite", "--rank-map names pid 300", "pid 100", rank_map=[spec])


def test_another_file_for_a_rank_needs_replace(db: Path, tmp_path: Path) -> None:
    path = write_kineto(tmp_path / "other" / "rank0.json", [cpu("z", 1.0, 1.0)], rank=0)
    _fails(db, [path], "rank0.json", "already has rank 0", "--replace", run="job")


def test_workers_below_one(db: Path, tmp_path: Path) -> None:
    path = write_kineto(tmp_path / "new" / "rank0.json", [cpu("x", 1.0, 1.0)], rank=0)
    _fails(db, [path], "--workers -1", workers=-1)


def test_a_rank_outside_the_world_size_is_imported_and_reported(db: Path, tmp_path: Path) -> None:
    path = write_kineto(tmp_path / "more" / "rank5.json", [cpu("x", 1.0, 1.0)], rank=None)
    proc = tk("import", path, "--db", db, "--run", "job")
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if "warning:" in line)
    assert "rank is not below their run's world size" in line and line.rstrip(" │").endswith("1")
