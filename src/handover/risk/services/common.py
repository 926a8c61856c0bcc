"""What every write of this app needs: who acts, and the check that they may."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from handover.core.actors import Actor, SystemActor, actor_user
from handover.core.errors import DomainError
from handover.org.models import Engagement, Person
from handover.org.selectors import one_side, require
from handover.registers.models import Row


def who(actor: Actor) -> tuple[Any, str]:
    """(the user to store, the name to show): a system actor is stored as no user, by its name."""
    if isinstance(actor, SystemActor) or actor is None:
        return None, str(actor or "system")
    return actor, actor.get_username()


def allowed(actor: Actor, engagement: Engagement, capability: str) -> None:
    require(user=actor, engagement=engagement, capability=capability)


def person_of(actor: Actor, engagement: Engagement) -> Person:
    """The acting login's person in this engagement (第八条 counts persons, not logins)."""
    person = None
    if getattr(actor, "is_authenticated", False):
        person = Person.objects.filter(engagement=engagement, user=actor_user(actor), is_active=True).first()
    if person is None:
        raise DomainError(_("Only a person of this engagement may do this."), field="actor")
    return person


def register_row(engagement: Engagement, row: Row | int | None, register_no: int, field: str) -> Row | None:
    """A current row of 表``register_no`` in this engagement, or a message naming the field."""
    if row is None or row == "":
        return None
    pk = row.pk if isinstance(row, Row) else row
    found = Row.objects.filter(
        pk=pk, form__engagement=engagement, form__register_no=register_no, is_current=True
    ).first()
    if found is None:
        raise DomainError(
            _("No current row of 表%(no)s with the id %(id)s in this engagement.")
            % {"no": register_no, "id": pk},
            field=field,
        )
    return found


def same_side(actor: Actor, person: Person | None) -> bool:
    """Whether ``actor`` counts as ``person`` in a two-person rule (第八条): the same person through any login they
    ever had, or one gave the other its login or roles (``org.selectors.one_side``, as rotation asks it)."""
    if person is None or person.user_id is None or not getattr(actor, "is_authenticated", False):
        return False
    return one_side(a=actor, b=person.user)
