"""Domain errors: messages a person can act on. Faces turn them into a page, an API body or an exit code."""

from __future__ import annotations

from django.utils.functional import Promise


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
