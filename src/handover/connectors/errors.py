"""Why a gathering failed, in words a site technician can act on (Chinese and English)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """The outcome of one target in a run; only OK replaces the last good inventory."""

    OK = "ok"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    AUTH_FAILED = "auth_failed"
    HOST_KEY_CHANGED = "host_key_changed"
    REFUSED = "refused"  # connected and logged in, but a query or a file was refused
    PARSE_ERROR = "parse_error"
    LOCKED = "locked"  # the account used to gather is locked or expired


class GatherError(Exception):
    """A target could not be gathered. ``reason_zh``/``reason_en`` name the target and what to do.

    Never put a secret, a verifier or a whole file in the message.
    """

    def __init__(self, status: Status, reason_en: str, reason_zh: str) -> None:
        super().__init__(reason_en)
        self.status = status
        self.reason_en = reason_en
        self.reason_zh = reason_zh


class ParseError(GatherError):
    """A source could not be read; ``source`` and ``line`` say where (line 1-based, None for the whole file)."""

    def __init__(self, source: str, line: int | None, reason_en: str, reason_zh: str) -> None:
        where = f"{source}:{line}" if line else source
        super().__init__(Status.PARSE_ERROR, f"{where}: {reason_en}", f"{where}：{reason_zh}")
        self.source = source
        self.line = line


def read_bounded(path: object, limit: int, *, hint_en: str = "", hint_zh: str = "") -> bytes:
    """The bytes of the file at ``path``, refused as a ParseError naming it when it cannot be read or is larger
    than ``limit`` bytes (never more than ``limit`` + 1 bytes are read). ``hint`` says what to give instead."""
    from pathlib import Path

    file = Path(str(path))
    try:
        with file.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ParseError(
            str(file), None, f"cannot read: {exc.strerror}", f"无法读取：{exc.strerror}"
        ) from None
    if len(data) > limit:
        size = f"{limit >> 20} MiB"
        raise ParseError(
            file.name, None, f"larger than {size}{': ' + hint_en if hint_en else ''}",
            f"超过 {size}{'：' + hint_zh if hint_zh else ''}",
        )  # fmt: skip
    return data
