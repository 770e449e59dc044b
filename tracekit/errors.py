"""One error family for everything a user can get wrong.

The CLI catches :class:`TracekitError` once, prints ``message`` and ``hint``
in one block and exits non-zero; tracebacks appear only with ``--debug``.
"""

from __future__ import annotations


class TracekitError(Exception):
    """A problem with the user's input or environment, explained for a person.

    Nothing was changed: the CLI exits with ``exit_code`` 2.
    """

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class InputError(TracekitError):
    """A trace, manifest or database file that cannot be used as given."""


class PartialError(TracekitError):
    """Part of a command's work landed before another part failed; the message says which.

    The CLI exits with status 3, so that a script does not take it for "nothing changed".
    """

    exit_code = 3
