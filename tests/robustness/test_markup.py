"""Rich markup and emoji codes in data are shown as the literal text, everywhere.

A run, kernel and communication op named with ``[/x]`` (a closing tag with no opening
one: Rich raises MarkupError), ``[bold]b[/bold]`` and ``:x:`` (an emoji code) go through
the import summary, ``sql``, ``report``, ``rules list`` and every TUI screen; each must
show the text as it is and exit 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.fixtures.kineto import Trace
from tests.robustness.conftest import assert_clean_failure, digest, tk
from tests.tui.tui_helpers import make_app, settle
from tracekit.tui.capture import screen_text

MARKUP = "[/x][bold]b[/bold]:x:"
RUN = f"run{MARKUP}"
GEMM = f"gemm{MARKUP}"
# the NCCL rule matches the name's prefix: the rest is kept as it is
ALL_REDUCE = f"ncclDevKernel_AllReduce_Sum_bf16_RING_LL{MARKUP}(ncclDevComm*)"
# a user rule whose pattern, op and note hold markup makes GEMM a communication op
PATTERN = r"^gemm\[/x\]"
OP = f"op{MARKUP}"
RULES = (
    "rule_id,priority,kinds,pattern,hint,library,op,captures,note\n"
    f"markup_rule,5,kernel,{PATTERN},gemm,custom,{OP},,a note {MARKUP}\n"
)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A database holding one run named with markup, and the import's stdout."""
    root = tmp_path_factory.mktemp("markup")
    trace = Trace(rank=0, world_size=1)
    trace.annotation("tk:step=0 phase=prefill", 0, 200).annotation("tk:layer=0", 0, 150)
    trace.kernel(GEMM, 100, 40, launch_ts=1)
    trace.kernel(ALL_REDUCE, 120, 60, stream=13, launch_ts=10)
    trace.write(root / "traces")
    db = root / "markup.duckdb"
    proc = tk("import", root / "traces", "--db", db, "--run", RUN)
    assert proc.returncode == 0, proc.stderr
    (root / "rules.csv").write_text(RULES)
    added = tk("rules", "add", root / "rules.csv", "--db", db)
    assert added.returncode == 0, added.stderr
    return db, proc.stdout


@pytest.fixture(scope="module")
def markup_db(imported: tuple[Path, str]) -> Path:
    return imported[0]


def test_import_summary_shows_the_run_name(imported: tuple[Path, str]) -> None:
    assert RUN in imported[1]


def test_sql_table_shows_values_and_headers_literally(markup_db: Path) -> None:
    proc = tk(
        "sql",
        "--db",
        markup_db,
        "SELECT '[/x]' AS \"[/x]\", '[bold]b[/bold]' AS b, ':x:' AS c, "
        "'^gloo:([a-z_]+)' AS pattern",
    )
    assert proc.returncode == 0, proc.stderr
    for text in ("[/x]", "[bold]b[/bold]", ":x:", "^gloo:([a-z_]+)"):
        assert text in proc.stdout


def test_sql_error_quoting_markup_is_shown_literally(markup_db: Path) -> None:
    proc = tk("sql", "--db", markup_db, 'SELECT "[/x]" FROM runs')
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert '"[/x]"' in proc.stderr


def test_sql_json_hugeint_is_a_number(markup_db: Path) -> None:
    big = 170141183460469231731687303715884105727
    proc = tk("sql", "--db", markup_db, "--format", "json", f"SELECT {big}::HUGEINT AS h, 'x' AS s")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"h": big, "s": "x"}]


def test_report_shows_the_run_name(markup_db: Path) -> None:
    proc = tk("report", "--db", markup_db)
    assert proc.returncode == 0, proc.stderr
    assert f"run {RUN}" in proc.stdout
    assert "all_reduce" in proc.stdout and OP in proc.stdout


def test_report_plot_into_a_file_is_refused(markup_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "charts.png"
    target.write_text("not a folder")
    before = digest(markup_db)
    proc = tk("report", "--db", markup_db, "--plot", target)
    assert_clean_failure(proc, str(target), "--plot")
    assert target.read_text() == "not a folder" and digest(markup_db) == before
    below = tk("report", "--db", markup_db, "--plot", target / "charts")
    assert_clean_failure(below, str(target / "charts"), "--plot")


def test_rules_list_shows_patterns_literally(markup_db: Path) -> None:
    proc = tk("rules", "list", "--db", markup_db)
    assert proc.returncode == 0, proc.stderr
    assert "^gloo:([a-z_]+)" in proc.stdout
    mine = tk("rules", "list", "--db", markup_db, "--user")
    assert mine.returncode == 0, mine.stderr
    for text in (PATTERN, OP, f"a note {MARKUP}"):
        assert text in mine.stdout


def test_model_tables_render_cells_literally() -> None:
    from tracekit.cli import model_cmd
    from tracekit.cli._app import console

    frame = pl.DataFrame({"op": [MARKUP], "msg_bytes": [2048]})
    with console.capture() as captured:
        model_cmd._render(frame, f"run {RUN}")
    text = captured.get()
    assert f"run {RUN}" in text and MARKUP in text


async def test_every_tui_screen_shows_the_text(markup_db: Path) -> None:
    app = make_app(markup_db)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert RUN in screen_text(app)  # Runs
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "ranks" and RUN in screen_text(app)
        await pilot.press("3")
        await settle(pilot)
        shown = screen_text(app)
        assert RUN in shown and MARKUP in shown and OP in shown  # kernel name, rule's op
        await pilot.press("4")
        await settle(pilot)
        assert RUN in screen_text(app)
        await pilot.press("5")
        await settle(pilot)
        assert RUN in screen_text(app) and "all_reduce" in screen_text(app)
        await pilot.press("6")
        await settle(pilot)
        assert RUN in screen_text(app)
        await pilot.press("7")
        await settle(pilot)
        editor = app.screen.query_one("#editor")
        editor.load_text("SELECT '[bold]b[/bold]' AS \"[/x]\", ':x:' AS c, run_id FROM runs")
        await pilot.press("ctrl+r")
        await settle(pilot)
        shown = screen_text(app)
        assert "[bold]b[/bold]" in shown and "[/x]" in shown and ":x:" in shown and RUN in shown
        editor.load_text('SELECT "[/x]"')
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert '"[/x]"' in screen_text(app)
    assert app.return_code in (None, 0)
