"""`tracekit collect --out`: a file, another job's folder or a path under a file is
refused with exit status 2 before anything runs, and no file in it changes.

The CLI runs once (a file as --out); the other cases call the same functions in process.
None of them starts a rank: the folder is checked before torch is even looked for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robustness.conftest import assert_clean_failure, digest, tk
from tracekit.collect.presets import PRESETS
from tracekit.collect.runner import CollectSpec, collect
from tracekit.collect.wrap import wrap
from tracekit.errors import InputError, TracekitError

SPEC = CollectSpec(tp=2, pp=1, shape=PRESETS["tiny"], gen_len=2)


def other_jobs_folder(tmp_path: Path) -> dict[Path, str | None]:
    """A folder holding another job's per-rank files, named as tracekit names its own."""
    folder = tmp_path / "shared"
    folder.mkdir()
    for name in ("rank0.pt.trace.json.gz", "rank1.log", "rank2.nsys-rep", "rank3.sqlite"):
        (folder / name).write_text(f"another job's {name}\n")
    (folder / "notes.txt").write_text("mine\n")
    return {path: digest(path) for path in folder.iterdir()}


def assert_untouched(files: dict[Path, str | None]) -> None:
    folder = next(iter(files)).parent
    assert sorted(folder.iterdir()) == sorted(files)
    assert {path: digest(path) for path in files} == files


def test_out_that_is_a_file_is_an_exit_2_paragraph(tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    target.write_text("a,b\n1,2\n")
    before = digest(target)
    proc = tk("collect", "--tp", "2", "--out", target)
    assert_clean_failure(proc, "results.csv", "--out is a file, not a folder", "new folder")
    assert digest(target) == before


def test_another_jobs_folder_is_refused_and_nothing_in_it_deleted(tmp_path: Path) -> None:
    files = other_jobs_folder(tmp_path)
    folder = next(iter(files)).parent
    with pytest.raises(InputError) as info:
        collect(SPEC, folder, command_line=["tracekit", "collect"])
    message = " ".join(info.value.message.split())
    assert str(folder) in message and "holds files tracekit did not write" in message
    assert "notes.txt" in message and "rank0.pt.trace.json.gz" in message
    assert "never deletes files it did not write" in info.value.hint
    assert_untouched(files)


@pytest.mark.parametrize("how", ["collect --dry-run", "collect --nsys --dry-run"])
def test_a_dry_run_refuses_the_same_folder(tmp_path: Path, how: str) -> None:
    files = other_jobs_folder(tmp_path)
    folder = next(iter(files)).parent
    with pytest.raises(InputError, match="holds files tracekit did not write"):
        if "--nsys" in how:
            wrap(["python", "app.py"], folder, command_line=["t"], dry_run=True)
        else:
            collect(SPEC, folder, command_line=["t"], dry_run=True)
    assert_untouched(files)


def test_out_below_a_file_is_explained(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    blocker = tmp_path / "blocker"
    blocker.write_text("x\n")
    with pytest.raises(TracekitError, match="cannot write into --out"):
        collect(SPEC, blocker / "run", command_line=["t"])
    assert blocker.read_text() == "x\n"
