"""`tracekit model` and `tracekit validate`: the analytical communication model."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
import typer
from rich.text import Text

from tracekit import store
from tracekit.cli._app import app, console
from tracekit.collect.presets import get_preset
from tracekit.errors import TracekitError
from tracekit.model.alpha_beta import TimeModel, comm_time_s, uniform, with_times
from tracekit.model.layout import Workload
from tracekit.model.predict import by_op, predict, volume
from tracekit.model.reproduce import (
    growth,
    ranking_claims,
    reproduction,
    reproduction_markdown,
)
from tracekit.model.study import study_volume
from tracekit.model.sweep import configurations, sweep
from tracekit.model.validate import fit_run, validate
from tracekit.render import cell, print_table

# the time model's options, shared by `model` and `validate`
AlphaUs = Annotated[float | None, typer.Option("--alpha-us", help="Latency per call, µs.")]
BetaGbps = Annotated[float | None, typer.Option("--beta-gbps", help="Bus bandwidth, GB/s.")]
BYTE_COLUMNS = {
    "msg_bytes",
    "total_bytes",
    "wire_bytes",
    "payload_bytes",
    "total_wire_bytes",
    "max_rank_wire_bytes",
    "lane_wire_bytes",
    "study_bytes",
    "pred_bytes",
    "meas_bytes",
}


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise TracekitError(
            f"{option} {text!r}: expected an integer or a comma-separated list",
            f"For example: {option} 1,2,4,8",
        ) from None
    if not values:
        raise TracekitError(f"{option} is empty")
    return values


def _time_model(
    alpha_us: float | None, beta_gbps: float | None, fit_db: Path | None, fit_run_id: str | None
) -> TimeModel | None:
    if fit_db is not None or fit_run_id is not None:
        if fit_db is None or fit_run_id is None:
            raise TracekitError("--fit-db and --fit-run go together")
        with store.open(fit_db, read_only=True) as con:
            return fit_run(con, fit_run_id)
    if alpha_us is None and beta_gbps is None:
        return None
    if alpha_us is None or beta_gbps is None:
        raise TracekitError("--alpha-us and --beta-gbps go together")
    return uniform(alpha_us, beta_gbps)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _emit_json(payload: dict[str, Any]) -> None:
    console.print_json(json.dumps(_plain(payload)))


def _unit(name: str) -> str | None:
    """The unit of a model column, by its name (see render.cell)."""
    if name == "msg_sizes":
        return None
    if name in BYTE_COLUMNS or name.endswith("_bytes"):
        return "bytes"
    if name.endswith("_ratio"):
        return "ratio"
    return "s" if name.endswith("_s") else None


HEADERS = {
    "place": "#",
    "world_size": "gpus",
    "payload_bytes": "payload",
    "total_bytes": "payload",
    "total_wire_bytes": "wire all",
    "max_rank_wire_bytes": "wire max rank",
    "lane_wire_bytes": "wire lane",
    "wire_bytes": "wire",
    "study_formula": "study",
    "study_bytes": "study wire",
    "comm_time_s": "time",
    "time_s": "time",
    "msg_sizes": "msg bytes",
}
"""Short column headings for tables; JSON keeps the column names."""


def _render(frame: pl.DataFrame, title: str) -> None:
    frame = frame.select([c for c in frame.columns if frame[c].null_count() < frame.height])
    print_table(
        console,
        frame.columns,
        frame.rows(),
        title=title,
        headers=HEADERS,
        units={name: unit for name in frame.columns if (unit := _unit(name))},
        right=[n for n, t in zip(frame.columns, frame.dtypes, strict=True) if t != pl.Utf8],
        count=False,
    )


def _time_params(model: TimeModel) -> dict[str, Any]:
    return {
        "source": model.source,
        "default": vars(model.default) if model.default else None,
        "per_op": {op: vars(ab) for op, ab in model.per_op.items()},
    }


@app.command("model")
def model_cmd(
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model preset name.")
    ] = "llama-3.1-8b",
    tp: Annotated[str, typer.Option("--tp", help="TP degree, or a comma list to sweep.")] = "1",
    pp: Annotated[str, typer.Option("--pp", help="PP degree, or a comma list to sweep.")] = "1",
    gpus: Annotated[int | None, typer.Option("--gpus", help="Sweep only TP x PP == this.")] = None,
    prompt_len: Annotated[
        int, typer.Option("--prompt-len", help="Prompt tokens per sequence (Sp).")
    ] = 128,
    gen_len: Annotated[
        int, typer.Option("--gen-len", help="Generated tokens per sequence (Sd).")
    ] = 128,
    batch: Annotated[int, typer.Option("--batch", help="Sequences per step (B).")] = 1,
    dtype: Annotated[str, typer.Option("--dtype", help="fp32, bf16, fp16 or fp8.")] = "bf16",
    logits: Annotated[
        Literal["last", "all"],
        typer.Option("--logits", help="Positions per sequence whose logits are gathered."),
    ] = "last",
    sample: Annotated[
        Literal["every_step", "none"],
        typer.Option(
            "--sample",
            help="Sampled ids to the first stage (as tracekit collect).",
        ),
    ] = "every_step",
    logits_collective: Annotated[
        Literal["gather", "all_gather"],
        typer.Option(
            "--logits-collective",
            help="gather to TP rank 0 (the study's) or all_gather (vLLM V1) the logits.",
        ),
    ] = "gather",
    per_rank: Annotated[
        bool, typer.Option("--per-rank", help="One row per rank, phase and op.")
    ] = False,
    alpha_us: AlphaUs = None,
    beta_gbps: BetaGbps = None,
    fit_db: Annotated[
        Path | None, typer.Option("--fit-db", help="Fit alpha/beta to this store.")
    ] = None,
    fit_run_id: Annotated[
        str | None, typer.Option("--fit-run", help="Run to fit alpha/beta to.")
    ] = None,
    study: Annotated[
        bool, typer.Option("--study", help="Reproduce the study's volume figures.")
    ] = False,
    fmt: Annotated[
        Literal["table", "json", "markdown"],
        typer.Option("--format", help="Output (markdown: with --study)."),
    ] = "table",
) -> None:
    """Predict collective counts, sizes, volume and time of a TP x PP layout.

    One --tp and --pp: every collective per phase and op (--per-rank: per rank), the
    total volume and the study's formula. Comma lists: a sweep ranked by volume.

    Example: tracekit model --model llama-3.1-8b --tp 2 --pp 2 --prompt-len 128 --gen-len 128

    Example (sweep): tracekit model --model llama-3.1-8b --tp 1,2,4,8 --pp 1,2,4,8 --gpus 8
    """
    if study:
        _study(fmt)
        return
    if fmt == "markdown":
        raise TracekitError("--format markdown is for --study", "Use table or json.")
    try:
        shape = get_preset(model)
    except KeyError as exc:
        raise TracekitError(str(exc.args[0])) from None
    tps, pps = _ints(tp, "--tp"), _ints(pp, "--pp")
    timing = _time_model(alpha_us, beta_gbps, fit_db, fit_run_id)
    work = Workload(
        batch=batch,
        prompt_len=prompt_len,
        gen_len=gen_len,
        dtype=dtype,
        logits_tokens_per_seq=1 if logits == "last" else None,
        sample_feedback=sample,  # type: ignore[arg-type]  # checked above
        logits_collective=logits_collective,
    )
    if len(tps) > 1 or len(pps) > 1 or gpus is not None:
        ranked = sweep(shape, configurations(tps, pps, gpus), work, time_model=timing)
        if fmt == "json":
            payload = {"model": shape.name, "workload": asdict(work)}
            _emit_json({**payload, "configurations": ranked.to_dicts()})
        else:
            _render(ranked, f"{shape.name}: configurations by total wire volume")
        return
    rows = predict(shape, tps[0], pps[0], work)
    vol = volume(rows, tps[0], pps[0])
    ref = study_volume(
        shape, tps[0], pps[0], prompt_len=prompt_len, gen_len=gen_len, dtype=dtype, batch=batch
    )
    table = by_op(rows, per_rank=per_rank)
    if timing is not None:
        keys = (["rank"] if per_rank else []) + ["phase", "op"]
        times = with_times(rows, timing).group_by(keys).agg(pl.col("time_s").sum())
        table = table.join(times, on=keys, how="left").sort(keys)
    summary = {**vars(vol), "study_formula": ref.formula, "study_bytes": ref.total}
    if timing is not None:
        summary["comm_time_s"] = comm_time_s(rows, timing)
    if fmt == "json":
        payload: dict[str, Any] = {
            "model": shape.name,
            "tp": tps[0],
            "pp": pps[0],
            "workload": asdict(work),
            "summary": summary,
            "collectives": table.to_dicts(),
        }
        if timing is not None:
            payload["time_model"] = _time_params(timing)
        _emit_json(payload)
        return
    _render(table, f"{shape.name} TP{tps[0]} PP{pps[0]}: collectives per phase and op")
    _render(
        pl.DataFrame(
            {"quantity": list(summary), "value": [cell(v, _unit(k)) for k, v in summary.items()]}
        ),
        "volume (bytes on the wire, ring factors; lane = tp_rank t-1 of every stage)",
    )


def _study(fmt: str) -> None:
    if fmt == "markdown":
        console.file.write(reproduction_markdown() + "\n")
        return
    table = reproduction()
    claims = ranking_claims(table)
    if fmt == "json":
        _emit_json(
            {
                "volumes": table.to_dicts(),
                "ranking": [vars(c) for c in claims],
                "growth_128_to_512": growth(table).to_dicts(),
            }
        )
        return
    _render(table.filter(pl.col("gen_len").is_in([128, 512])), "study configurations, bf16")
    _render(pl.DataFrame([vars(c) for c in claims]), "PP4 < TP2xPP2 < TP4")


@app.command("validate")
def validate_cmd(
    db: Annotated[Path, typer.Option("--db", help="tracekit database (from `tracekit import`).")],
    run: Annotated[
        str | None,
        typer.Option("--run", help="Run id in that database (needed if it holds several)."),
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="Flag ratios off by more.")
    ] = 0.05,
    per_rank: Annotated[
        bool, typer.Option("--per-rank", help="Also compare rank by rank.")
    ] = False,
    alpha_us: AlphaUs = None,
    beta_gbps: BetaGbps = None,
    fit_run_id: Annotated[
        str | None,
        typer.Option("--fit-run", help="Fit alpha/beta to this other run in the database."),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if a count or bytes is flagged.")
    ] = False,
    fmt: Annotated[Literal["table", "json"], typer.Option("--format", help="Output.")] = "table",
) -> None:
    """Compare the model for a run's manifest with the communication its traces measured.

    Per collective type and phase: predicted vs measured count, bytes and time, their
    ratio, flagged beyond the tolerance. Without --alpha-us/--beta-gbps or --fit-run the
    time model is fitted to the run's own calls (in sample: the times then test the
    alpha-beta form, not an independent prediction).

    Example: tracekit validate --db traces.duckdb
    """
    if fit_run_id is not None and (alpha_us is not None or beta_gbps is not None):
        raise TracekitError("give --fit-run or --alpha-us/--beta-gbps, not both")
    timing = _time_model(alpha_us, beta_gbps, None, None)
    with store.open(db, read_only=True) as con:
        run = store.pick_run(con, run)
        if fit_run_id is not None:
            timing = fit_run(con, fit_run_id)
        result = validate(con, run, tolerance=tolerance, time_model=timing)
    time_note = result.time_model.source + (
        " — in sample: fitted to this run's own calls, not an independent prediction"
        if result.time_in_sample
        else ""
    )
    if fmt == "json":
        payload: dict[str, Any] = {
            "run": run,
            "spec": {
                **{k: v for k, v in vars(result.spec).items() if k != "work"},
                **asdict(result.spec.work),
                "shape": vars(result.spec.shape),
            },
            "tolerance": tolerance,
            "counts_and_bytes_match": result.counts_and_bytes_match,
            "time_model": _time_params(result.time_model),
            "time_in_sample": result.time_in_sample,
            "by_op": result.by_op.to_dicts(),
        }
        if per_rank:
            payload["by_rank"] = result.by_rank.to_dicts()
        _emit_json(payload)
    else:
        spec, work = result.spec, result.spec.work
        _render(
            result.by_op,
            f"run {run}: {spec.shape.name} TP{spec.tp} PP{spec.pp}, B{work.batch} "
            f"Sp{work.prompt_len} Sd{work.gen_len} {work.dtype}",
        )
        if per_rank:
            _render(result.by_rank, "per rank")
        verdict = "match" if result.counts_and_bytes_match else "DIFFER (see flags)"
        console.print(Text(f"counts and bytes: {verdict}"))
        console.print(Text(f"time: {time_note}"))
    if check and not result.counts_and_bytes_match:
        raise typer.Exit(1)
