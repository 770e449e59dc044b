"""The credential filter (tracekit.secrets) on every known token format.

The import tests that plant these formats in real files and search the whole
database and Parquet dataset for them are further down.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

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
