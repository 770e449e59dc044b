"""The metadata around a Kineto trace's ``traceEvents`` array: parsed, checked, filtered.

PyTorch writes one JSON object: keys (``distributedInfo``, ``deviceProperties``,
...), the ``traceEvents`` array, then more keys (``traceName``,
``baseTimeNanoseconds``). The reader (:mod:`tracekit.ingest.kineto`) streams the
array; the text before and after it is parsed here with orjson. A key written
twice (in one object, or before and after the array) is an error, and values
that look like credentials are dropped (:func:`tracekit.secrets.scrub`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from tracekit.errors import InputError
from tracekit.secrets import scrub

_META_HINT = "Re-export the trace, or fix that key: the metadata is one JSON object around it."


def meta_from(path: Path, text: bytes, where: str) -> dict[str, Any]:
    """The metadata object ``text`` (``where`` says which part of the file, for messages).

    A repeated key is an error (JSON parsers keep one of the two silently), and values
    that look like credentials are dropped (:func:`tracekit.secrets.scrub`).
    """
    try:
        meta = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"{path}: the metadata {where} the traceEvents array is not valid JSON ({exc})",
            _META_HINT,
        ) from exc
    if not isinstance(meta, dict):
        raise InputError(f"{path}: the top level is not a JSON object")
    _no_repeated_keys(path, text, where)
    return scrub(meta)


def _no_repeated_keys(path: Path, text: bytes, where: str) -> None:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _value in items:
            if key in seen:
                raise InputError(
                    f"{path}: the key `{key}` appears twice in the metadata {where} the "
                    "traceEvents array; tracekit does not guess which one holds",
                    _META_HINT,
                )
            seen.add(key)
        return {}

    try:
        json.loads(text, object_pairs_hook=pairs)
    except RecursionError:  # nested deeper than Python's stack: orjson has parsed it
        pass


def head_meta(path: Path, prefix: bytes) -> dict[str, Any]:
    """Parse the keys before ``"traceEvents": [`` as an object of their own."""
    text = prefix.rstrip()
    if text.endswith(b","):
        text = text[:-1]
    meta = meta_from(path, text + b"}", "before")
    if "traceEvents" in meta:  # a second one, before the array read as the events
        raise InputError(f"{path}: the key `traceEvents` appears twice", _META_HINT)
    return meta


def tail_meta(path: Path, suffix: bytes) -> bytes | None:
    """The text after the array's ``]`` (``, "k": v }`` or ``}``) as an object; None if it
    is not that."""
    text = suffix.strip()
    if text == b"}":
        return b"{}"
    if not text.startswith(b","):
        return None
    text = b"{" + text[1:]
    try:
        meta = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # a cut-off or wrong end is never that deep
            meta_from(path, text, "after")
        return None
    return text if isinstance(meta, dict) else None


def merge_tail(path: Path, meta: dict[str, Any], text: bytes) -> None:
    """Add the keys written after the array to ``meta``; a key written on both sides is
    an error, as is a second ``traceEvents``."""
    late = meta_from(path, text, "after")
    for key in late:
        if key in meta or key == "traceEvents":
            raise InputError(
                f"{path}: the key `{key}` appears twice in the trace (before and after "
                "the traceEvents array); tracekit does not guess which one holds",
                _META_HINT,
            )
    meta.update(late)
    if "baseTimeNanoseconds" in late:
        # read from the file's last bytes before the events (_base_from_tail): the same
        # number unless the key is not a plain integer there
        base = checked_base(path, late["baseTimeNanoseconds"])
        if base != meta["_base_ns"]:
            raise InputError(
                f"{path}: `baseTimeNanoseconds` {base} is not the time base found in the "
                f"file's last 4 kB ({meta['_base_ns'] or 'none'}), which tracekit reads "
                "before the events",
                "Write the key once, as a plain integer, near the end of the file.",
            )


def checked_base(path: Path, base: Any) -> int:
    if base is None:
        return 0
    if not isinstance(base, int) or isinstance(base, bool):
        raise InputError(
            f"{path}: `baseTimeNanoseconds` is not an integer ({base!r})",
            "PyTorch writes the time base as whole nanoseconds; fix or remove the key.",
        )
    return base


def explain_no_events(path: Path, head: bytes) -> None:
    try:
        doc = orjson.loads(head)
    except orjson.JSONDecodeError:
        raise InputError(
            f"{path}: not valid JSON",
            "Expected a PyTorch profiler trace (export_chrome_trace) or an nsys .sqlite export.",
        ) from None
    raise InputError(
        f"{path}: no `traceEvents` array — is this a PyTorch profiler trace?",
        f"The file is valid JSON (a {type(doc).__name__}) but has no traceEvents.",
    )
