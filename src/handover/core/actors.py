"""The actor for work done by the deployment itself (command line, demo loader, scheduled tasks).

It passes every capability check, and the audit trail names it, so nothing it does is anonymous.
"""

from __future__ import annotations


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
