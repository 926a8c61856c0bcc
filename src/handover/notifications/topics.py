"""The topic registry: what a person can be told about, and who is told by default.

Each app registers its topics in its own ``topics.py`` (found by ``discover`` when Django starts, the way
the admin finds ``admin.py``), so this app imports none of them. A topic names its default audience: a
function from the event's engagement and site to the persons who hear of it in the app without asking.
A person turns a topic off with an opt-out row; email, webhooks and digests stay explicit subscriptions.

    from handover.notifications import topics
    from handover.org import permissions as perms

    RISK_INCIDENT = topics.register(
        "risk.incident", _("Security incident reported"), audience=topics.holders_of(perms.MANAGE_WORKFLOW)
    )
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.module_loading import autodiscover_modules

from handover.org import permissions as perms
from handover.org.models import Engagement, Person, RoleAssignment, Site
from handover.org.selectors import Grant

Audience = Callable[[Engagement, "Site | None"], Iterable[Person]]


@dataclass(frozen=True)
class Topic:
    """One kind of event: its code (stable, stored), its label (English msgid, Chinese in the catalogue)
    and its default audience (None: only explicit subscribers hear of it)."""

    code: str
    label: str | Promise
    audience: Audience | None = None


_TOPICS: dict[str, Topic] = {}


def register(code: str, label: str | Promise, *, audience: Audience | None = None) -> str:
    """Add a topic; returns its code, for the caller's ``notify(topic=...)``. A code is registered once."""
    if len(code) > 40:
        raise ValueError(f"topic code {code!r} is longer than 40 characters")
    known = _TOPICS.get(code)
    if known is not None and known.label != label:
        raise RuntimeError(f"notification topic {code} registered twice")
    _TOPICS[code] = Topic(code, label, audience)
    return code


def discover() -> None:
    """Import every installed app's ``topics`` module (NotificationsConfig.ready)."""
    autodiscover_modules("topics")


def get(code: str) -> Topic:
    """The registered topic; an unknown code is a programming error, caught at once."""
    try:
        return _TOPICS[code]
    except KeyError:
        raise ValueError(f"notification topic {code!r} is not registered") from None


def exists(code: str) -> bool:
    return code in _TOPICS


def choices() -> list[tuple[str, str | Promise]]:
    """(code, label) of every topic, in registration order."""
    return [(t.code, t.label) for t in _TOPICS.values()]


def label(code: str) -> str | Promise:
    """The topic's label, or its code for a topic no longer registered (old rows)."""
    topic = _TOPICS.get(code)
    return topic.label if topic is not None else code


def grants_of_engagement(engagement: Engagement, roles: Iterable[str]) -> dict[Person, list[Grant]]:
    """The active, enrolled persons of the engagement holding one of ``roles``, with those grants (one query).

    As ``org.selectors.grants_for``: an inactive or not yet enrolled login holds no role."""
    rows = RoleAssignment.objects.filter(
        engagement=engagement,
        role__in=list(roles),
        revoked_at__isnull=True,
        person__is_active=True,
        person__user__is_active=True,
        person__user__enrolled_at__isnull=False,
    ).select_related("person__user", "site")
    found: dict[Person, list[Grant]] = {}
    for row in rows:
        grant = Grant(engagement.pk, row.role, row.site_id, row.site.path if row.site else "")
        found.setdefault(row.person, []).append(grant)
    return found


def _covers(grant: Grant, site: Site | None) -> bool:
    """A grant reaches the event: engagement-wide, or at the event's site or above it."""
    return not grant.site_path or (site is not None and site.path.startswith(grant.site_path))


def holders_of(*capabilities: str) -> Audience:
    """The audience of persons holding one of ``capabilities`` through a role that covers the event's site
    (an engagement-wide role covers every site; an event without a site reaches engagement-wide roles)."""
    roles = set().union(*(perms.roles_with(c) for c in capabilities))

    def audience(engagement: Engagement, site: Site | None) -> list[Person]:
        return [
            person
            for person, grants in grants_of_engagement(engagement, roles).items()
            if any(_covers(g, site) for g in grants)
        ]

    return audience
