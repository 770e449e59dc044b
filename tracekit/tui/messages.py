"""Messages the query workers post back to their screen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class QueryDone(Message):
    """A worker's query finished; ``key`` says which one."""

    key: str
    result: Any
    seconds: float | None


@dataclass
class QueryFailed(Message):
    """A worker's query raised; ``error`` is the text shown to the user."""

    key: str
    error: str
