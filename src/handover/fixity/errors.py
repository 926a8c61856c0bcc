"""Errors of the fixity engine: messages a person in the field can act on (the CLI turns them into exit 2)."""

from __future__ import annotations


class FixityError(Exception):
    """A run that cannot go on: a bad argument, an unreadable manifest, a calendar without data."""


class ManifestError(FixityError):
    """A manifest that cannot be parsed; the message names the line."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
