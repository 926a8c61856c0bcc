"""What the workflow's services share: the acting person, text checks, evidence files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Set as AbstractSet
from typing import Any, BinaryIO

from django.utils.translation import gettext as _

from handover.core.actors import Actor, actor_user
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Engagement, Person, Role, Site
from handover.org.selectors import grants_for
from handover.registers.validation import looks_like_credential
from handover.workflow import steps, storage
from handover.workflow.models import Evidence, StepInstance


def user_or_none(actor: Actor) -> Any:
    return actor_user(actor)


def acting_person(
    actor: Actor, engagement: Engagement, site: Site | None, roles: AbstractSet[str]
) -> tuple[Person, str]:
    """The actor's person and a role among ``roles`` held at ``site`` (engagement-wide if ``site`` is None)."""
    for grant in grants_for(actor):
        if grant.engagement_id != engagement.pk or grant.role not in roles:
            continue
        if not grant.site_path or (site is not None and site.path.startswith(grant.site_path)):
            person = Person.objects.filter(
                engagement=engagement, user=actor_user(actor), is_active=True
            ).first()
            if person is not None:
                return person, grant.role
    names = "、".join(str(Role(r).label) for r in sorted(roles))
    raise PermissionDenied(_("Only %(roles)s may do this here.") % {"roles": names})


def clean_text(value: str, field: str) -> str:
    text = value.strip()
    if not text:
        raise DomainError(_("This field is required."), field=field)
    if looks_like_credential(text):
        raise DomainError(
            _("This looks like a password or other secret; never write one here (registers.md §1.3)."),
            field=field,
        )
    return text


def step_label(step_id: str) -> str:
    return f"{step_id} {steps.BY_ID[step_id].zh}"


def evidence_create(
    actor: Actor,
    engagement: Engagement,
    name: str,
    stream: BinaryIO,
    description: str,
    now: dt.datetime,
    step: StepInstance | None = None,
) -> Evidence:
    if not name.strip():
        raise DomainError(_("The file has no name."), field="file")
    stored = storage.store(stream, name)
    return Evidence.objects.create(
        engagement=engagement,
        step=step,
        name=name.strip()[:200],
        description=description.strip()[:300],
        sha256=stored.sha256,
        size=stored.size,
        stored_as=stored.relative,
        uploaded_by=user_or_none(actor),
        uploaded_at=now,
    )
