"""The actor for work done by the deployment itself (command line, demo loader, scheduled tasks).

It passes every capability check, and the audit trail names it, so nothing it does is anonymous.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class SystemActor:
    is_authenticated = False
    is_active = True
    pk = None

    def __init__(self, name: str) -> None:
        self.audit_name = f"system:{name}"

    def __str__(self) -> str:
        return self.audit_name


def system(name: str = "cli") -> SystemActor:
    return SystemActor(name)


def actor_name(actor: object) -> str:
    """How a record names who did something: a login's user name, or the system actor's audit name."""
    name = getattr(actor, "audit_name", None)
    if name:
        return str(name)
    get_username = getattr(actor, "get_username", None)
    return str(get_username()) if callable(get_username) else str(actor)


# Who a service acts for (review §10.6): a login (a page's or the API's ``request.user``, which may be
# anonymous until the capability check refuses it) or the deployment itself.
Actor: TypeAlias = "AbstractBaseUser | AnonymousUser | SystemActor"


def actor_user(actor: object) -> Any:
    """The login behind an actor, for the ``created_by``/``user`` columns; ``None`` for the system actor or no
    actor at all."""
    return None if actor is None or isinstance(actor, SystemActor) else actor
