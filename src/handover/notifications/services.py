"""Telling people what happened: in the app, by email (SMTP settings) and by a generic JSON webhook that a
企业微信 or 钉钉 robot receives, per person and topic, at once or in a daily digest (observers).

Any app calls ``notify`` inside the service that caused the event, so the messages commit with the change;
the sending happens after the commit, in the ``deliveries_send`` task beside it. By default the topic's
audience (topics.py) hears of it in the app, unless a person turned the topic off; email, webhooks and
digests are explicit subscriptions. A person hears only of sites they may see.

A webhook URL holds the robot's access token: it is read when sending and never written to the trail, a log
or an error (only its host is).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext as _
from django_tasks import task

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor, actor_user
from handover.core.errors import DomainError, PermissionDenied
from handover.notifications import events, topics
from handover.notifications.links import Link, link_path
from handover.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    OptOut,
    Subscription,
)
from handover.org import permissions as perms
from handover.org.models import Engagement, Person, Site
from handover.org.selectors import Grant, persons_of_login

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TIMEOUT = 10
MAX_ATTEMPTS = 5


def _or_now(value: dt.datetime | None) -> dt.datetime:
    return clock.or_now(value)


def _own_person(actor: Actor, engagement: Engagement) -> Person:
    person = (
        Person.objects.filter(engagement=engagement, user=actor_user(actor), is_active=True).first()
        if getattr(actor, "is_authenticated", False)
        else None
    )
    if person is None:
        raise PermissionDenied(_("Only a member of the engagement has notifications here."))
    return person


def _check_target(channel: str, target: str) -> str:
    target = target.strip()
    if channel == Channel.IN_APP:
        return ""
    if channel == Channel.EMAIL and not _EMAIL.match(target):
        raise DomainError(_("Enter an email address, e.g. name@example.com."), field="target")
    if channel == Channel.WEBHOOK:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DomainError(_("Enter the robot's full http(s) URL."), field="target")
        if not webhook_host_allowed(target):
            raise DomainError(
                _("Webhooks may post only to %(hosts)s (HANDOVER_WEBHOOK_HOSTS).")
                % {"hosts": "、".join(settings.HANDOVER_WEBHOOK_HOSTS)},
                field="target",
            )
    return target


def webhook_host_allowed(url: str) -> bool:
    """The URL's host is one HANDOVER_WEBHOOK_HOSTS names (or the setting is ``*``)."""
    allowed = settings.HANDOVER_WEBHOOK_HOSTS
    return "*" in allowed or (urlsplit(url).hostname or "") in allowed


def _shown(channel: str, target: str) -> str:
    """What the trail may say about a target: the address for email, only the host for a webhook."""
    return urlsplit(target).netloc if channel == Channel.WEBHOOK else target


def subscription_set(
    *,
    actor: Actor,
    engagement: Engagement,
    topic: str,
    channel: str,
    target: str = "",
    digest: bool = False,
    now: dt.datetime | None = None,
) -> Subscription:
    """The acting person subscribes to ``topic`` by ``channel`` (replacing an earlier choice for the pair)."""
    person = _own_person(actor, engagement)
    if not topics.exists(topic) or channel not in Channel.values:
        raise DomainError(_("Choose an event type and a channel."), field="topic")
    clean = _check_target(channel, target)
    with transaction.atomic():
        subscription, _created = Subscription.objects.update_or_create(
            person=person,
            topic=topic,
            channel=channel,
            defaults={"target": clean, "digest": digest, "is_active": True, "created_at": _or_now(now)},
        )
        event_record(
            actor=actor,
            action=events.SUBSCRIPTION_SET,
            engagement_id=engagement.pk,
            obj=subscription,
            after={"topic": topic, "channel": channel, "target": _shown(channel, clean), "digest": digest},
        )
    return subscription


def subscription_end(*, actor: Actor, subscription: Subscription) -> None:
    """Stop a subscription of one's own; its address is forgotten, its past deliveries stay on record."""
    person = _own_person(actor, subscription.person.engagement)
    if subscription.person_id != person.pk:
        raise PermissionDenied(_("This subscription is someone else's."))
    with transaction.atomic():
        subscription.deliveries.filter(status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, error="subscription ended"
        )
        Subscription.objects.filter(pk=subscription.pk).update(is_active=False, target="")
        event_record(
            actor=actor,
            action=events.SUBSCRIPTION_END,
            engagement_id=person.engagement_id,
            obj=subscription,
            before={"topic": subscription.topic, "channel": subscription.channel},
        )


def _may_see(person_grants: list[Grant], engagement: Engagement, site: Site | None) -> tuple[bool, bool]:
    """(may hear of it at all, may see the site's details): summary readers hear of it without details."""
    details = summary = False
    for grant in person_grants:
        if grant.engagement_id != engagement.pk:
            continue
        covers = not grant.site_path or (site is not None and site.path.startswith(grant.site_path))
        caps = perms.capabilities_of(grant.role)
        details |= covers and perms.VIEW_WORKFLOW in caps
        summary |= covers and perms.VIEW_SUMMARY in caps
    return details or summary, details


def _default_audience(
    topic: topics.Topic, engagement: Engagement, site: Site | None, actor: Actor | None
) -> dict[int, Person]:
    """The topic's audience, less those who turned it off and the persons of whoever caused the event (第八条:
    nobody is asked to approve their own request, from any of their logins)."""
    if topic.audience is None:
        return {}
    silenced = set(
        OptOut.objects.filter(person__engagement=engagement, topic=topic.code).values_list(
            "person_id", flat=True
        )
    )
    if getattr(actor, "is_authenticated", False):
        silenced |= persons_of_login(user=actor)
    return {p.pk: p for p in topic.audience(engagement, site) if p.pk not in silenced}


def notify(
    *,
    engagement: Engagement,
    topic: str,
    title: str,
    body: str = "",
    link: Link | str = "",
    site: Site | None = None,
    summary_title: str = "",
    now: dt.datetime | None = None,
    actor: Actor | None = None,
) -> list[Notification]:
    """Tell of an event of ``topic`` at ``site`` (or engagement-wide): in the app to the topic's default
    audience (less opt-outs and the ``actor`` who caused it), and by their channels to its subscribers. Only
    those who may know of the site hear of it; those who read only summaries (observers) get
    ``summary_title`` without the site's details. ``link`` names the page told of (a ``Link``, resolved here).
    Call inside the causing transaction."""
    spec = topics.get(topic)
    path = link_path(link)
    subscriptions = list(
        Subscription.objects.filter(
            person__engagement=engagement, person__is_active=True, topic=topic, is_active=True
        ).select_related("person")
    )
    persons = _default_audience(spec, engagement, site, actor)
    by_person: dict[int, list[Subscription]] = defaultdict(list)
    for subscription in subscriptions:
        by_person[subscription.person_id].append(subscription)
        persons.setdefault(subscription.person_id, subscription.person)
    grants = {p.pk: g for p, g in topics.grants_of_engagement(engagement, perms.ROLE_CAPABILITIES).items()}
    at = _or_now(now)
    notes: list[Notification] = []
    for person_id in persons:
        hears, details = _may_see(grants.get(person_id, []), engagement, site)
        if hears:
            notes.append(
                Notification(
                    person_id=person_id,
                    topic=topic,
                    title=title if details else (summary_title or title),
                    body=body if details else "",
                    link=path if details else "",
                    created_at=at,
                )
            )
    made = Notification.objects.bulk_create(notes)
    Delivery.objects.bulk_create(
        Delivery(notification=note, subscription=s, digest=s.digest)
        for note in made
        for s in by_person.get(note.person_id, [])
        if s.channel != Channel.IN_APP
    )
    told = {note.person_id for note in made}
    if any(s.channel != Channel.IN_APP and not s.digest and s.person_id in told for s in subscriptions):
        transaction.on_commit(deliveries_send.enqueue)
    return made


@task()
def deliveries_send() -> dict[str, int]:
    """Send the notifications waiting for email or webhook (queued after the commit that made them)."""
    return deliver(digest=False)


def topic_turn(*, actor: Actor, engagement: Engagement, topic: str, on: bool) -> bool:
    """Turn a topic off (no more in-app messages from its default audience) or back on, for oneself.
    Returns whether anything changed; subscriptions by email or webhook are left as they are."""
    person = _own_person(actor, engagement)
    if not topics.exists(topic):
        raise DomainError(_("Choose an event type."), field="topic")
    with transaction.atomic():
        if on:
            changed = OptOut.objects.filter(person=person, topic=topic).delete()[0] > 0
        else:
            _row, changed = OptOut.objects.get_or_create(
                person=person, topic=topic, defaults={"created_at": clock.now()}
            )
        if changed:
            event_record(
                actor=actor,
                action=events.TOPIC_ON if on else events.TOPIC_OFF,
                engagement_id=engagement.pk,
                object_type="notifications.topic",
                object_id=topic,
                after={"topic": topic, "person": person.pk},
            )
    return changed


def notification_read(
    *, actor: Actor, engagement: Engagement, ids: list[int], now: dt.datetime | None = None
) -> int:
    """Mark one's own notifications read; returns how many changed."""
    person = _own_person(actor, engagement)
    return Notification.objects.filter(person=person, pk__in=ids, read_at__isnull=True).update(
        read_at=_or_now(now)
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """L8: an allowed host answering 301/302/303/307/308 would send the server on to any address (SSRF)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise urllib.error.HTTPError(req.full_url, code, f"webhook redirect refused ({code})", headers, fp)


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post_json(url: str, payload: dict[str, Any]) -> None:
    if urlsplit(url).scheme not in ("http", "https") or not webhook_host_allowed(url):
        raise ValueError("webhook host not allowed")
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url,
        data=json.dumps(payload, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    with _OPENER.open(request, timeout=TIMEOUT) as response:
        response.read()


def _text(notes: list[Notification]) -> str:
    return "\n".join(f"{n.title}\n{n.body}".strip() for n in notes)


def _send(subscription: Subscription, notes: list[Notification]) -> None:
    title = notes[0].title if len(notes) == 1 else _("Handover: %(n)d updates") % {"n": len(notes)}
    if subscription.channel == Channel.EMAIL:
        send_mail(
            title, _text(notes), settings.DEFAULT_FROM_EMAIL, [subscription.target], fail_silently=False
        )
        return
    _post_json(
        subscription.target,
        {
            "msgtype": "text",
            "text": {"content": f"{title}\n{_text(notes)}" if len(notes) > 1 else _text(notes)},
            "handover": {
                "topic": notes[0].topic,
                "items": [{"title": n.title, "link": n.link} for n in notes],
            },
        },
    )


def _failure(exc: Exception) -> str:
    """A reason that names the failure, never the URL (its token) nor the password."""
    code = getattr(exc, "code", None)
    return f"HTTP {code}" if isinstance(code, int) else type(exc).__name__


def deliver(*, digest: bool, now: dt.datetime | None = None) -> dict[str, int]:
    """Send what waits: the immediate deliveries, or (``digest``) one message per subscription with all
    its waiting digest deliveries. A failure is kept with its reason and retried up to MAX_ATTEMPTS."""
    at = _or_now(now)
    waiting = (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, digest=digest)
        .select_related("notification", "subscription")
        .order_by("pk")
    )
    grouped: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in waiting:
        grouped[delivery.subscription_id if digest else delivery.pk].append(delivery)
    counts = {"sent": 0, "failed": 0}
    for group in grouped.values():
        subscription = group[0].subscription
        ids = [d.pk for d in group]
        try:
            _send(subscription, [d.notification for d in group])
        except Exception as exc:  # any failure of the far end is recorded, not raised
            attempts = group[0].attempts + 1
            Delivery.objects.filter(pk__in=ids).update(
                attempts=attempts,
                error=_failure(exc)[:200],
                status=DeliveryStatus.FAILED if attempts >= MAX_ATTEMPTS else DeliveryStatus.PENDING,
            )
            counts["failed"] += len(ids)
            continue
        Delivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.SENT, sent_at=at, error="")
        counts["sent"] += len(ids)
    return counts
