"""Telling people what happened: in the app, by email (SMTP settings) and by a generic JSON webhook that a
企业微信 or 钉钉 robot receives, per person and event type, at once or in a daily digest (observers).

``notify`` runs inside the workflow service that caused it, so the messages commit with the change; the
sending happens after the commit, in a task. A webhook URL holds the robot's access token: it is read when
sending and never written to the trail, a log or an error (only its host is).
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

from handover.audit.services import event_record
from handover.core import clock
from handover.core.errors import DomainError, PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement, Person, Site
from handover.org.selectors import grants_for
from handover.workflow import events
from handover.workflow.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    Subscription,
    Topic,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TIMEOUT = 10
MAX_ATTEMPTS = 5


def _own_person(actor: Any, engagement: Engagement) -> Person:
    person = (
        Person.objects.filter(engagement=engagement, user=actor, is_active=True).first()
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
    actor: Any,
    engagement: Engagement,
    topic: str,
    channel: str,
    target: str = "",
    digest: bool = False,
    now: dt.datetime | None = None,
) -> Subscription:
    """The acting person subscribes to ``topic`` by ``channel`` (replacing an earlier choice for the pair)."""
    person = _own_person(actor, engagement)
    if topic not in Topic.values or channel not in Channel.values:
        raise DomainError(_("Choose an event type and a channel."), field="topic")
    clean = _check_target(channel, target)
    with transaction.atomic():
        subscription, _created = Subscription.objects.update_or_create(
            person=person,
            topic=topic,
            channel=channel,
            defaults={"target": clean, "digest": digest, "is_active": True, "created_at": clock.or_now(now)},
        )
        event_record(
            actor=actor,
            action=events.SUBSCRIPTION_SET,
            engagement_id=engagement.pk,
            obj=subscription,
            after={"topic": topic, "channel": channel, "target": _shown(channel, clean), "digest": digest},
        )
    return subscription


def subscription_end(*, actor: Any, subscription: Subscription) -> None:
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


def _may_see(person_grants: list[Any], engagement: Engagement, site: Site | None) -> tuple[bool, bool]:
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


def notify(
    *,
    engagement: Engagement,
    topic: str,
    title: str,
    body: str = "",
    link: str = "",
    site: Site | None = None,
    summary_title: str = "",
    now: dt.datetime | None = None,
) -> list[Notification]:
    """Messages for every subscriber of ``topic`` who may know of it; those who read only summaries
    (observers) get ``summary_title`` without the site's details. Call inside the causing transaction."""
    at = clock.or_now(now)
    subscriptions = list(
        Subscription.objects.filter(
            person__engagement=engagement, person__is_active=True, topic=topic, is_active=True
        ).select_related("person__user")
    )
    by_person: dict[int, list[Subscription]] = defaultdict(list)
    for subscription in subscriptions:
        by_person[subscription.person_id].append(subscription)
    made: list[Notification] = []
    for person_subs in by_person.values():
        person = person_subs[0].person
        hears, details = (
            _may_see(grants_for(person.user), engagement, site) if person.user else (False, False)
        )
        if not hears:
            continue
        note = Notification.objects.create(
            person=person,
            topic=topic,
            title=title if details else (summary_title or title),
            body=body if details else "",
            link=link if details else "",
            created_at=at,
        )
        Delivery.objects.bulk_create(
            Delivery(notification=note, subscription=s, digest=s.digest)
            for s in person_subs
            if s.channel != Channel.IN_APP
        )
        made.append(note)
    if any(s.channel != Channel.IN_APP and not s.digest for s in subscriptions):
        transaction.on_commit(_enqueue_delivery)
    return made


def _enqueue_delivery() -> None:
    from handover.workflow.tasks import deliveries_send

    deliveries_send.enqueue()


def notification_read(
    *, actor: Any, engagement: Engagement, ids: list[int], now: dt.datetime | None = None
) -> int:
    """Mark one's own notifications read; returns how many changed."""
    person = _own_person(actor, engagement)
    return Notification.objects.filter(person=person, pk__in=ids, read_at__isnull=True).update(
        read_at=clock.or_now(now)
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
    at = clock.or_now(now)
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
