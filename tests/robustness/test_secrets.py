"""The credential filter (tracekit.secrets) on every known token format.

The import tests that plant these formats in real files and search the whole
database and Parquet dataset for them are further down.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from tests.ingest.nsys_export import T0, VM, Export, gtid, nccl_blob
from tests.robustness.conftest import tk
from tests.robustness.planted import PLANTED
from tracekit.secrets import REDACTED, looks_secret, redact, redact_array, scrub, secret_name

NSYS = Path(__file__).resolve().parents[2].parent / "shared" / "traces" / "nsys"


@pytest.mark.parametrize(("fmt", "text", "secret"), PLANTED, ids=[p[0] for p in PLANTED])
def test_free_text_keeps_its_words_and_loses_the_credential(
    fmt: str, text: str, secret: str
) -> None:
    got = redact(f"load weights {text} done")
    assert secret not in got
    assert REDACTED in got
    assert got.startswith("load weights ") and got.endswith(" done")


@pytest.mark.parametrize(("fmt", "text", "secret"), PLANTED, ids=[p[0] for p in PLANTED])
def test_metadata_value_holding_a_credential_is_dropped(fmt: str, text: str, secret: str) -> None:
    assert looks_secret(text)
    assert scrub({"host_name": f"node-{text}", "gpu": "NVIDIA H100"}) == {"gpu": "NVIDIA H100"}


def test_redact_array_is_vectorised_and_keeps_nulls_and_clean_values() -> None:
    clean = [
        "void gemm_kernel<float>(float*)",
        "tk:step=0 phase=prefill",
        "max_tokens=128",
        "--max-tokens 128",
        "hf_generate",
        "mask-fill",
        None,
    ]
    texts = clean + [f"x {text}" for _fmt, text, _secret in PLANTED]
    chunked = pa.chunked_array([texts[:5], texts[5:]], pa.string())
    for values in (pa.array(texts, pa.string()), chunked):
        got = redact_array(values).to_pylist()
        assert got[: len(clean)] == clean
        for out, (_fmt, _text, secret) in zip(got[len(clean) :], PLANTED, strict=True):
            assert out.startswith("x ") and secret not in out
    untouched = pa.array([clean[0], clean[1], None], pa.string())
    assert redact_array(untouched) is untouched  # nothing guarded: the same array back


def test_names_that_suggest_a_secret() -> None:
    for name in (
        "HF_TOKEN",
        "WANDB_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "DB_PASSWORD",
        "PGPASS",
        "GITHUB_CREDENTIALS",
        "HTTP_AUTH",
        "cookie",
        "SESSION_ID",
        "auth_header",
    ):
        assert secret_name(name), name
    for name in ("NCCL_DEBUG", "MASTER_ADDR", "RANK", "host_name", "CUDA_VISIBLE_DEVICES"):
        assert not secret_name(name), name


def test_scrub_drops_entries_under_secret_names_at_any_depth() -> None:
    meta = {
        "host_name": "node7",
        "distributedInfo": {"rank": 1, "auth_token": "plain", "pg": [{"desc": "default_pg"}]},
        "values": ["ok", "hf_x", 3, None],
        "empty": None,
    }
    assert scrub(meta) == {
        "host_name": "node7",
        "distributedInfo": {"rank": 1, "pg": [{"desc": "default_pg"}]},
        "values": ["ok", 3, None],
        "empty": None,
    }


@pytest.mark.skipif(not NSYS.is_dir(), reason=f"the real nsys exports are not at {NSYS}")
def test_real_names_are_untouched() -> None:
    """No false positive on the real exports' kernel, runtime, thread and NVTX names."""
    texts: list[str] = []
    for path in sorted(NSYS.glob("*.sqlite")):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        texts += [r[0] for r in con.execute("SELECT value FROM StringIds")]
        texts += [r[0] for r in con.execute("SELECT DISTINCT text FROM NVTX_EVENTS")]
        con.close()
    values = pa.array(texts, pa.string())
    assert len(texts) > 30_000
    assert redact_array(values).to_pylist() == texts


def _texts() -> list[str]:
    return [text for _fmt, text, _secret in PLANTED]


def _planted_export(path: Path) -> Path:
    """A one-process nsys export with a credential in every string-bearing place."""
    texts = _texts()
    ex = Export()
    ex.process(42, "/usr/bin/python3 serve.py " + " ".join(texts))
    ex.environment = ";".join(
        [
            "RANK=0",
            "WORLD_SIZE=1",
            "NCCL_DEBUG=INFO",
            "MASTER_ADDR=alice:Tr0ub4dor&FAKE3@10.0.0.1",
            "NCCL_IB_HCA=p@ss!FAKEpunct#word",
            "WANDB_API_KEY=plainFAKEsecretValue",
            *(f"NCCL_X{i}={text}" for i, text in enumerate(texts)),
            *(f"MY_VAR{i}={text}" for i, text in enumerate(texts)),
        ]
    )
    base = T0 + 1_000
    ex.launch(42, 42, base, "void gemm_kernel<float>(float*)", 0)
    for i, text in enumerate(texts):
        t = base + 10_000 * (i + 1)
        ex.threads.append((ex.sid(f"worker {text}"), 0, gtid(42, 1000 + i)))
        ex.range(42, 42, t, t + 5_000, f"load {text} weights")
        ex.range(42, 42, t + 100, t + 4_000, f"step {text}", registered=True, domain=1)
        ex.range(42, 42, t + 200, t + 3_000, "with blob", blob=nccl_blob(64) + text.encode())
        ex.launch(42, 42, t + 300, f"void k_{text}(float*)", 0)
    ex.domain(42, 1, "NCCL " + texts[0])
    ex.write(path)
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO TARGET_INFO_SYSTEM_ENV VALUES (?, 'Local', ?, 0, ?)",
        [
            (VM, name, f"{name} {text}")
            for name in ("Hostname", "OsDescription", "NvDriverVersion", "CudaDriverVersion")
            for text in texts
        ],
    )
    con.executemany(
        "INSERT INTO META_DATA_CAPTURE VALUES (?, ?)",
        [(f"PROCESS_0:ARGUMENT_{i}", text) for i, text in enumerate(texts)]
        + [(f"ENV_{i}", f"NCCL_Y{i}={text}") for i, text in enumerate(texts)],
    )
    con.executemany(
        "INSERT INTO META_DATA_EXPORT VALUES ('EXPORT_PRODUCT_VERSION', ?)", [(t,) for t in texts]
    )
    con.executemany("INSERT INTO TARGET_INFO_GPU VALUES (0, ?)", [(f"H100 {t}",) for t in texts])
    con.execute("UPDATE NVTX_EVENTS SET jsonText = ? WHERE text = 'with blob'", [texts[0]])
    con.commit()
    con.close()
    return path


def _stored_text(con: duckdb.DuckDBPyConnection, relations: list[tuple[str, str]]) -> str:
    """Every value of every column of ``relations`` ((name, FROM clause)), cast to text."""
    parts = []
    for _name, source in relations:
        columns = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        cells = ", ".join(f'CAST("{c[0]}" AS VARCHAR)' for c in columns)
        parts += [repr(row) for row in con.execute(f"SELECT {cells} FROM {source}").fetchall()]
    return "\n".join(parts)


def test_nsys_import_stores_no_credential(tmp_path: Path) -> None:
    export = _planted_export(tmp_path / "planted.sqlite")
    db, parquet = tmp_path / "t.duckdb", tmp_path / "pq"
    proc = tk("import", export, "--db", db, "--parquet", parquet)
    assert proc.returncode == 0, proc.stderr
    con = duckdb.connect(str(db), read_only=True)
    relations = con.execute(
        "SELECT DISTINCT table_name FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY 1"
    ).fetchall()
    assert {"events", "traces", "threads", "runs", "comm_ops"} <= {r[0] for r in relations}
    stored = _stored_text(con, [(r[0], f'"{r[0]}"') for r in relations])
    files = sorted(parquet.rglob("*.parquet"))
    assert {f.parts[len(parquet.parts)] for f in files} >= {"events", "traces", "threads"}
    dataset = _stored_text(con, [(f.name, f"read_parquet('{f}')") for f in files])
    for _fmt, _text, secret in PLANTED:
        for where, text in (("database", stored), ("parquet", dataset)):
            assert secret not in text, f"{secret!r} stored in the {where}"
    for secret in ("plainFAKEsecretValue", "FAKEpunct", "Tr0ub4dor"):
        assert secret not in stored and secret not in dataset
    # free text keeps its event, with the credential redacted; allowed values stay
    n = len(PLANTED)
    redacted = con.execute(
        "SELECT count(*) FILTER (name LIKE '%[redacted]%'), count(*) FROM events "
        "WHERE name LIKE 'load % weights' OR name LIKE 'step %' OR name LIKE 'void k_%'"
    ).fetchone()
    assert redacted == (3 * n, 3 * n)
    assert con.execute(
        "SELECT count(*) FROM threads WHERE name LIKE 'worker %[redacted]%'"
    ).fetchone() == (n,)
    assert con.execute(
        "SELECT rank, rank_source, host, source_meta->>'$.environment', "
        "source_meta->>'$.process_name' FROM traces"
    ).fetchall() == [
        (0, "environment", None, '{"RANK":"0","WORLD_SIZE":"1","NCCL_DEBUG":"INFO"}', "python3")
    ]
    con.close()
