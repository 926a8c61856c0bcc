"""Domain errors: messages a person can act on. Faces turn them into a page, an API body or an exit code."""

from __future__ import annotations

import errno

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A refused action. ``field`` names the input at fault, if one is."""

    status = 400

    def __init__(self, message: str | Promise, *, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.code = code


class NotFound(DomainError):
    """The thing asked for does not exist, or the user may not know that it does."""

    status = 404

    def __init__(self, message: str | Promise, *, field: str | None = None) -> None:
        super().__init__(message, field=field, code="not_found")


class PermissionDenied(DomainError):
    """The user may not do this here."""

    status = 403

    def __init__(self, message: str | Promise, *, field: str | None = None) -> None:
        super().__init__(message, field=field, code="permission_denied")


class StorageFull(DomainError):
    """The disk of the data folder (or the database's) is full: nothing of the action was kept."""

    status = 507

    def __init__(self, message: str | Promise | None = None, *, field: str | None = None) -> None:
        super().__init__(
            message
            or _(
                "The server's disk is full: nothing of this was stored, and nothing stored before is lost. "
                "Ask the administrator to free space in the data folder (or enlarge its disk), then try again."
            ),
            field=field,
            code="disk_full",
        )


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# SQLite's SQLITE_FULL ("database or disk is full") and PostgreSQL's class 53 (insufficient resources:
# 53100 disk_full) reach Django as OperationalError; their text or SQLSTATE names them.
_FULL_TEXTS = ("database or disk is full", "could not extend file", "no space left on device")


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the disk is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageFull):
            return True
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if getattr(current, "sqlstate", None) == "53100" or getattr(current, "pgcode", None) == "53100":
            return True
        if type(current).__name__ in {"OperationalError", "DiskFull"} and any(
            text in str(current).lower() for text in _FULL_TEXTS
        ):
            return True
        current = current.__cause__ or current.__context__
    return False
