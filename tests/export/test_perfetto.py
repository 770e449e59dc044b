"""`tracekit export --perfetto`: the JSON holds every event of the run, as the store has it.

Perfetto's own trace processor (the `perfetto` package) downloads its binary at run time,
which this offline project cannot do, so the file is checked against the Chrome Trace
Event Format field by field (ph, ts, dur, pid, tid, name, cat, args, flow ids) and its
contents against SQL counts on the store it came from.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cpu, kernel, write_kineto
from tests.robustness.conftest import tk
from tracekit import store
from tracekit.analysis import perfetto
from tracekit.errors import InputError
from tracekit.ingest.loader import import_paths

PHASES = {"M", "X", "i", "s", "f"}
METADATA = {"process_name", "process_sort_index", "thread_name", "thread_sort_index"}


def _export(db: Path, run: str, path: Path) -> list[dict[str, Any]]:
    with store.open(db, read_only=True) as con:
        perfetto.write(con, run, path)
    doc = json.loads(path.read_bytes(), parse_float=Decimal)  # exact µs decimals
    assert doc["displayTimeUnit"] == "ns"
    assert doc["otherData"]["run"] == run
    return doc["traceEvents"]


def _ns(value: Decimal) -> int:
    ns = value * 1000
    assert ns == ns.to_integral_value(), f"{value} µs is not a whole number of ns"
    return int(ns)


def _check_schema(event: dict[str, Any]) -> None:
    """One event against the Trace Event Format's fields and their types."""
    assert event["ph"] in PHASES, event
    assert type(event["pid"]) is int and isinstance(event["name"], str), event
    if event["ph"] == "M":
        assert event["name"] in METADATA, event
        (key, value), *rest = event["args"].items()
        assert not rest
        assert (key, type(value)) in {("name", str), ("sort_index", int)}, event
        if event["name"].startswith("thread"):
            assert type(event["tid"]) is int, event
        return
    assert type(event["tid"]) is int and isinstance(event["cat"], str), event
    assert isinstance(event["ts"], Decimal) and event["ts"] >= 0, event
    if event["ph"] == "X":
        assert isinstance(event["dur"], Decimal) and event["dur"] >= 0, event
    if event["ph"] == "i":
        assert event["s"] == "t", event
    if event["ph"] in ("s", "f"):
        assert type(event["id"]) is int, event
        assert event.get("bp", "e") == "e", event
    else:
        assert isinstance(event["args"], dict), event
        assert isinstance(event.get("cname", ""), str), event


def _store_counts(db: Path, run: str) -> dict[str, Any]:
    queries = {
        "events": "SELECT count(*) FROM events JOIN traces USING (trace_id) WHERE run_id = ?",
        "kernels": "SELECT count(*) FROM events JOIN traces USING (trace_id) "
        "WHERE run_id = ? AND kind = 'kernel'",
        "comm": "SELECT count(*) FROM comm_ops WHERE run_id = ?",
        "participants": "SELECT count(*) FROM collective_participants WHERE run_id = ?",
        "launches": "SELECT count(*) FROM event_launches JOIN traces USING (trace_id) "
        "WHERE run_id = ?",
        "pairs": "SELECT count(*) FROM collective_participants "
        "WHERE run_id = ? AND op = 'send_recv' AND rank_op = 'recv'",
        "layers": "SELECT count(*) FROM event_labels WHERE run_id = ? AND layer IS NOT NULL",
        "ranks": "SELECT count(DISTINCT rank) FROM traces WHERE run_id = ?",
    }
    with store.open(db, read_only=True) as con:
        counts = {k: con.execute(q, [run]).fetchone()[0] for k, q in queries.items()}
        counts["times"] = Counter(
            con.execute(
                "SELECT trace_id, event_id, ts_ns, dur_ns FROM events "
                "JOIN traces USING (trace_id) WHERE run_id = ?",
                [run],
            ).fetchall()
        )
    return counts


def _check_export(db: Path, run: str, path: Path) -> list[dict[str, Any]]:
    events = _export(db, run, path)
    for event in events:
        _check_schema(event)
    want = _store_counts(db, run)
    slices = [e for e in events if e["ph"] in ("X", "i")]
    by_cat = Counter(c for e in slices if e["ph"] == "X" for c in e["cat"].split(","))
    assert len(slices) == want["events"]
    assert by_cat["kernel"] == want["kernels"]
    assert by_cat["communication"] == want["comm"] > 0
    assert sum("instance" in e["args"] for e in slices) == want["participants"]
    assert sum("layer" in e["args"] for e in slices) == want["layers"]
    # every event at its exact ns on the run timeline, with its duration
    times = Counter(
        (
            e["args"]["trace_id"],
            e["args"]["event_id"],
            _ns(e["ts"]),
            _ns(e["dur"]) if e["ph"] == "X" else 0,
        )
        for e in slices
    )
    assert times == want["times"]

    # every process and track that holds an event is named
    processes = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    threads = {
        (e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"
    }
    used = {(e["pid"], e["tid"]) for e in events if e["ph"] != "M"}
    assert {pid for pid, _ in used} <= processes and len(processes) == want["ranks"]
    assert used <= threads

    # every flow starts and finishes once, inside a slice of its own track
    ends: defaultdict[int, list[str]] = defaultdict(list)
    tracks: defaultdict[tuple[int, int], list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for e in events:
        if e["ph"] == "X":
            tracks[e["pid"], e["tid"]].append((e["ts"], e["ts"] + e["dur"]))
    for e in events:
        if e["ph"] in ("s", "f"):
            ends[e["id"]].append(e["ph"])
            spans = tracks[e["pid"], e["tid"]]
            assert any(lo <= e["ts"] <= hi for lo, hi in spans), e
    assert all(sorted(v) == ["f", "s"] for v in ends.values())
    flows = Counter(e["name"] for e in events if e["ph"] == "s")
    assert flows == Counter(launch=want["launches"], send_recv=want["pairs"])

    # each track's slices in time order (the store's times are totally ordered), and
    # nested: a slice that straddles the end of another would be misplaced by the viewers
    last: dict[tuple[int, int], Decimal] = {}
    open_: defaultdict[tuple[int, int], list[Decimal]] = defaultdict(list)
    for e in slices:
        key = (e["pid"], e["tid"])
        assert e["ts"] >= last.get(key, Decimal(0)), e
        last[key] = e["ts"]
        if e["ph"] == "X":
            stack = open_[key]
            while stack and stack[-1] <= e["ts"]:
                stack.pop()
            assert not stack or e["ts"] + e["dur"] <= stack[-1], e
            stack.append(e["ts"] + e["dur"])
    return events


def test_tp2pp2_export_matches_the_store(gloo_db: Path, tmp_path: Path) -> None:
    events = _check_export(gloo_db, "tp2pp2", tmp_path / "tp2pp2.json")
    names = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert names == {r: f"rank {r} (tp {r % 2}, stage {r // 2})" for r in range(4)}
    comm = [e for e in events if e["ph"] == "X" and "communication" in e["cat"]]
    assert {e["cname"] for e in comm} == {"thread_state_iowait"}
    assert all("cname" not in e for e in events if e["ph"] == "X" and e not in comm)
    labelled = [e["args"] for e in comm if "phase" in e["args"]]
    assert {a["phase"] for a in labelled} == {"prefill", "decode"}
    pairs = [e for e in events if e["ph"] in ("s", "f") and e["name"] == "send_recv"]
    assert {e["pid"] for e in pairs} == {0, 1, 2, 3}  # stage 0 <-> stage 1, both ways


def test_dlrm_8rank_export_matches_the_store(shared_traces: Path, tmp_path: Path) -> None:
    db = tmp_path / "dlrm.duckdb"
    import_paths(db, [shared_traces / "kineto" / "dlrm_8rank"])
    events = _check_export(db, "dlrm_8rank", tmp_path / "dlrm.json")
    kernels = [e for e in events if e["ph"] == "X" and "kernel" in e["cat"].split(",")]
    assert {e["pid"] for e in kernels} == set(range(8))
    streams = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert "gpu0 stream 7" in streams


def test_cli_writes_and_replaces_only_its_own_file(gloo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    proc = tk("export", "--perfetto", out, "--db", gloo_db)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out}: run tp2pp2, 13848 slices")
    assert proc.stdout.count("\n") == 1  # nothing else, not DuckDB's progress bar either
    first = out.read_bytes()
    assert first.startswith(perfetto.MARKER)
    assert json.loads(first)["traceEvents"]
    out.write_bytes(first[:100])  # an earlier export's file, even a cut one, is replaced
    assert tk("export", "--perfetto", out, "--db", gloo_db).returncode == 0
    assert out.read_bytes() == first
    assert not list(tmp_path.glob(".*.tmp"))


def test_read_only_store_draws_no_progress_bar(gloo_db: Path) -> None:
    """DuckDB prints its bar on stdout for a query over 2 s (an export on a busy machine)."""
    with store.open(gloo_db, read_only=True) as con:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)


def test_gz_file_holds_the_same_trace(gloo_db: Path, tmp_path: Path) -> None:
    plain, packed = tmp_path / "run.json", tmp_path / "run.json.gz"
    for out in (plain, packed):
        with store.open(gloo_db, read_only=True) as con:
            perfetto.write(con, "tp2pp2", out)
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert packed.stat().st_size < plain.stat().st_size / 5
    packed.write_bytes(b"not gzip, a user's file")
    with store.open(gloo_db, read_only=True) as con, pytest.raises(InputError, match="--force"):
        perfetto.write(con, "tp2pp2", packed)
    assert packed.read_bytes() == b"not gzip, a user's file"


def test_names_are_data(tmp_path: Path) -> None:
    odd = 'all_reduce "q" \\ [/x] :x: \u2028 ünï'
    nameless = cpu("dropped", 3.0, 1.0)
    del nameless["name"]
    trace = write_kineto(
        tmp_path / "job" / "rank0.json",
        [
            {"ph": "M", "name": "thread_name", "pid": 100, "tid": 100, "args": {"name": odd}},
            cpu(odd, 1.0, 5.0),
            kernel("ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevComm*)", 2.0, 1.25),
            nameless,
        ],
    )
    db = tmp_path / "t.duckdb"
    import_paths(db, [trace.parent])
    events = _export(db, "job", tmp_path / "odd.json")
    assert {odd, "(cpu_op)"} <= {e["name"] for e in events}  # a nameless event: its kind
    for event in events:
        _check_schema(event)
    assert any(e["name"] == "thread_name" and odd in e["args"]["name"] for e in events)
    (comm,) = [e for e in events if "communication" in e.get("cat", "")]
    assert (comm["ts"], comm["dur"]) == (Decimal("1.000"), Decimal("1.250"))  # from 1.0 µs
