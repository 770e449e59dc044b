"""Credentials never reach the store: one filter for every importer.

Traces carry text from the profiled job: kernel, thread and NVTX range names,
NVTX payload text, process names, host names, environment variables, Kineto
metadata. Two rules apply, against the known token formats (GitHub ``ghp_`` /
``gho_`` / ``github_pat_``, Slack ``xox?-``, Hugging Face ``hf_``, OpenAI and
Anthropic ``sk-`` / ``sk-ant-``, AWS ``AKIA`` / ``ASIA`` ids and 40-character
secret keys, JWTs ``eyJ…``, PEM blocks, URLs with user info, ``Bearer``
values) and against any value under a name that suggests a secret (``TOKEN``,
``KEY``, ``SECRET``, ``PASSWORD``, ``PASS``, ``CREDENTIAL``, ``AUTH``,
``COOKIE``, ``SESSION``, …):

- **Free text that is data** keeps its text, each credential in it replaced
  by ``[redacted]`` (the event stays): :func:`redact_array` over an Arrow
  column, :func:`redact` over one string. Arrow compute runs the patterns
  (RE2), only on the values that a cheap guard pattern selects; a short
  column and a single string (a Kineto trace's thread names) are guarded in
  Python, so that an import whose names hold no credential never loads
  pyarrow (0.1 s, 70 MB) nor Arrow compute (0.08 s).
- **A metadata field** (an environment variable, a host name, a driver
  version) is kept whole or dropped whole: :func:`secret_name` for its name,
  :func:`looks_secret` for its value, :func:`scrub` for a JSON-like tree.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pyarrow (0.1 s, 70 MB) is loaded only where an Arrow column is redacted
    import pyarrow as pa

REDACTED = "[redacted]"
# Up to this many values, redact_array runs the guard with Python's `re`.
_FEW_VALUES = 1000

# Free-text keywords after which a value is a credential (`password=…`, `--api-key …`).
_KEYWORDS = (
    r"password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|credentials?|auth|cookie"
)
_B64 = r"A-Za-z0-9+/"
_BEFORE = r"(^|[^A-Za-z0-9])"
_KEEP_BEFORE = rf"\1{REDACTED}"
# The value after such a keyword: quoted (to its closing quote) or up to white space.
_VALUE = r"(?:\"[^\"]*\"?|'[^']*'?|[^\s\"']+)"
# (RE2 pattern, Arrow replacement): applied in order to the guarded values.
REDACTIONS: tuple[tuple[str, str], ...] = (
    (r"-----BEGIN [A-Z0-9 ]*-----(?s:.*?)(?:-----END [A-Z0-9 ]*-----|$)", REDACTED),
    (r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@", rf"\1{REDACTED}@"),
    # a token starts a word or follows `_` (`k_ghp_…`): the character before it is kept
    (rf"{_BEFORE}(?:gh[pousr]_[A-Za-z0-9]{{8,}}|github_pat_[A-Za-z0-9_]{{8,}})", _KEEP_BEFORE),
    (rf"{_BEFORE}xox[abposre]-[A-Za-z0-9-]{{8,}}", _KEEP_BEFORE),
    # hf_ and 8+ characters with an upper-case letter or digit early: tokens are
    # random base62, snake_case identifiers (`hf_generate`) are not
    (rf"{_BEFORE}hf_[a-z]*[A-Z0-9][A-Za-z0-9]{{7,}}", _KEEP_BEFORE),
    (rf"{_BEFORE}sk-(?:ant-|proj-)?[A-Za-z0-9_-]{{16,}}", _KEEP_BEFORE),
    (rf"{_BEFORE}(?:AKIA|ASIA)[A-Z0-9]{{16}}", _KEEP_BEFORE),
    (rf"(^|[^{_B64}=])[{_B64}]{{40}}([^{_B64}=]|$)", rf"\1{REDACTED}\2"),
    (rf"{_BEFORE}eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]{{8,}}(?:\.[A-Za-z0-9_-]*)?", _KEEP_BEFORE),
    (r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+", rf"\1{REDACTED}"),
    # `HF_TOKEN=…`, `"password": "…"`, `--api-key=…`: a keyword ending a name, then = or :
    (
        rf"(?i)((?:^|[^a-z])(?:{_KEYWORDS})[\"']?\s*[=:]\s*){_VALUE}",
        rf"\1{REDACTED}",
    ),
    # `--api-key …`, `-token …`: a command-line flag ending in a keyword, then its value
    (rf"(?i)((?:^|[^a-z0-9-])--?(?:[a-z0-9]+[_-])*(?:{_KEYWORDS})\s+){_VALUE}", rf"\1{REDACTED}"),
)
# Every value a redaction could change matches this (case-insensitive literals
# and one counted class): the patterns above run only where it matches.
GUARD = (
    r"(?i)-----BEGIN|://|gh[pousr]_|github_pat_|xox|hf_|sk-|akia|asia|eyj|bearer|"
    rf"{_KEYWORDS}|[{_B64}]{{40}}"
)
_GUARD_RE = re.compile(GUARD)
_SECRET_NAME = re.compile(
    r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|PASS|PWD|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|"
    r"SIGNATURE|CERT",
    re.IGNORECASE,
)
# A long run of base64/hex-like characters holding both letters and digits.
_RANDOM_RUN = re.compile(r"(?=[A-Za-z0-9+/=]*\d)(?=[A-Za-z0-9+/=]*[A-Za-z])[A-Za-z0-9+/=]{20,}")


def secret_name(name: str) -> bool:
    """Whether a field or variable named ``name`` may hold a secret (its value is never kept)."""
    return bool(_SECRET_NAME.search(name))


def looks_secret(value: str) -> bool:
    """Whether a metadata value may be or hold a credential: then it is dropped whole.

    Stricter than :func:`redact`: any token prefix or secret keyword at all
    (a short ``hf_x`` too), or a run of 20+ random-looking characters.
    """
    return bool(_GUARD_RE.search(value) or _RANDOM_RUN.search(value))


def redact_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``values`` (strings) with every credential replaced by ``[redacted]``; NULLs stay."""
    if len(values) == 0 or values.null_count == len(values):
        return values
    if len(values) <= _FEW_VALUES and not any(
        _GUARD_RE.search(value) for value in values.to_pylist() if value is not None
    ):
        return values
    import pyarrow as pa
    import pyarrow.compute as pc  # 0.08 s to load: only where a value may be a credential

    guarded = pc.fill_null(pc.match_substring_regex(values, GUARD), False)
    if not pc.any(guarded).as_py():
        return values
    subset = pc.filter(values, guarded)
    for pattern, replacement in REDACTIONS:
        subset = pc.replace_substring_regex(subset, pattern, replacement)
    if isinstance(values, pa.ChunkedArray):
        values, guarded = values.combine_chunks(), guarded.combine_chunks()
    if isinstance(subset, pa.ChunkedArray):
        subset = subset.combine_chunks()
    return pc.replace_with_mask(values, guarded, subset)


def redact(text: str) -> str:
    """``text`` with every credential replaced by ``[redacted]`` (the same patterns, one value)."""
    if not _GUARD_RE.search(text):
        return text
    import pyarrow as pa

    return redact_array(pa.array([text], pa.string()))[0].as_py()


def scrub(value: Any) -> Any:
    """A JSON-like tree without secrets: entries under a secret name and secret-looking
    strings are dropped (``None`` where ``value`` itself is such a string)."""
    if isinstance(value, str):
        return None if looks_secret(value) else value
    if isinstance(value, dict):
        kept = {
            k: scrub(v) for k, v in value.items() if not (isinstance(k, str) and secret_name(k))
        }
        return {k: v for k, v in kept.items() if v is not None or value[k] is None}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value if not (isinstance(v, str) and looks_secret(v))]
    return value
