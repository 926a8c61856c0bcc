"""Appending to the audit trail. Every service calls ``event_record`` inside its own transaction, so the
change and its evidence commit together or not at all (Zulip's ``do_*`` pattern)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.audit import catalogue, chain, checkpoint, events, selectors, verify
from handover.audit.models import Event, Outcome
from handover.core import context, faults
from handover.core.actors import Actor, actor_user
from handover.core.errors import DomainError, PermissionDenied

# Any 64-bit constant: serialises appends across PostgreSQL connections (SQLite's IMMEDIATE transactions
# already hold the database's single write lock).
_PG_LOCK_KEY = 0x68616E646F766572

# Field names whose values must never reach the trail, whatever model they come from.
SECRET_FIELDS = frozenset({"password", "totp_secret", "totp_secret_sealed", "secret", "token", "key"})
# ...and any key containing one of these (db_password, api_token, client_secret, totp_seed).
SECRET_PARTS = ("password", "passwd", "secret", "token", "totp", "credential", "private_key")


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_FIELDS or any(part in lowered for part in SECRET_PARTS)


@cache
def _hash_fn() -> Callable[[bytes], str]:
    return chain.hasher(settings.HANDOVER_AUDIT_HASH)


def _normalise(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the JSON column gives back, so the hash of a stored row can be recomputed exactly."""
    if value is None:
        return None
    return json.loads(json.dumps(_clean(value), cls=DjangoJSONEncoder, ensure_ascii=False))


def _clean(value: Any) -> Any:
    """Secrets redacted at any depth; floats in the form PostgreSQL's jsonb gives back (it keeps numbers as
    numeric, so 1e16 returns as 10000000000000000 and -0.0 as 0.0, which would no longer hash the same)."""
    if isinstance(value, dict):
        return {k: ("[redacted]" if is_secret_field(str(k)) else _clean(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) >= 1e16 else value + 0.0
    return value


def _lock_and_head() -> tuple[int, str]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
    head = Event.objects.order_by("-seq").values_list("seq", "hash").first()
    return head if head else (0, chain.GENESIS)


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """The audit view of a model row: concrete field values, foreign keys as ids, secrets left out."""
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        if is_secret_field(field.name):
            continue
        data[field.attname] = field.value_from_object(instance)
    return data


def event_record(
    *,
    actor: Actor | None,
    action: str,
    engagement_id: int | None = None,
    site_id: int | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    outcome: str = Outcome.SUCCESS,
) -> Event:
    """Append one event to the chain, in the caller's transaction (or a new one)."""
    if not catalogue.exists(action):
        raise ValueError(f"audit action {action!r} is not in any app's events.py")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    ctx = context.current()
    login = actor_user(actor) if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        seq, prev_hash = _lock_and_head()
        values: dict[str, Any] = {
            "seq": seq + 1,
            "occurred_at": timezone.now(),
            "actor_id": login.pk if login is not None else None,
            "actor_username": login.get_username() if login is not None else getattr(actor, "audit_name", ""),
            "engagement_id": engagement_id,
            "site_id": site_id,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "before": _normalise(before),
            "after": _normalise(after),
            "request_id": ctx.request_id,
            "client_addr": ctx.client_addr,
            "channel": ctx.channel,
            "outcome": str(outcome),
            "prev_hash": prev_hash,
        }
        values["hash"] = _hash_fn()(chain.canonical(values))
        event = Event.objects.create(**values)
        faults.point("audit.append.after_event")  # the event row in, its transaction not committed
        return event


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, for compact before/after values on an update."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


class CheckpointKeyMisplaced(DomainError):
    """The checkpoint signing key is configured inside the data folder."""


def checkpoint_write(*, actor: Actor | None, directory: Any = None, path: Any = None) -> tuple[Any, int]:
    """Sign the current head into a file (``path``, or a new name in ``directory``), ship a copy to the second
    places configured (a folder on another mount, the auditors' email) and record where; returns (file, seq).

    The event recording the checkpoint comes after the signed head, so the file covers everything before it.
    """
    from pathlib import Path

    from handover.audit import checkpoint, events

    key_path = Path(settings.HANDOVER_CHECKPOINT_KEY)
    if checkpoint.key_inside(key_path, settings.DATA_DIR):
        # M3: a key beside the data lets whoever holds the data re-sign a rewritten chain.
        raise CheckpointKeyMisplaced(
            _(
                "The checkpoint key %(key)s is inside the data folder, where anyone holding the data could "
                "re-sign a rewritten trail. Move it to a place of its own and set HANDOVER_CHECKPOINT_KEY."
            )
            % {"key": key_path},
            field="HANDOVER_CHECKPOINT_KEY",
        )
    key = checkpoint.load_or_create_key(key_path)
    with transaction.atomic():
        seq, head_hash = _lock_and_head()
        now = timezone.now()
        if path is None:
            path = Path(directory or settings.HANDOVER_CHECKPOINT_DIR) / (
                f"checkpoint-{seq:012d}-{now:%Y%m%dT%H%M%S%fZ}.json"
            )
        cp = checkpoint.Checkpoint(
            seq=seq,
            head_hash=head_hash,
            algorithm=settings.HANDOVER_AUDIT_HASH,
            created_at=checkpoint.now_text(now),
        )
        written = checkpoint.write(cp, key, Path(path))
        faults.point("audit.checkpoint.after_file")  # the signed file written, its event not yet
        shipped, failed = _checkpoint_ship(written, seq)
        event_record(
            actor=actor,
            action=events.CHECKPOINT_WRITE,
            object_type="audit.checkpoint",
            object_id=str(seq),
            after={
                "seq": seq,
                "head_hash": head_hash,
                "file": str(written),
                "shipped": shipped,
                "not_shipped": failed,
            },
        )
    return written, seq


def _checkpoint_ship(written: Any, seq: int) -> tuple[list[str], list[str]]:
    """Copies of the checkpoint off the data folder; where each went, and what could not be reached (a
    failed copy leaves the checkpoint written and says so in its event, for the auditor to follow up)."""
    from django.core.mail import EmailMessage

    from handover.audit import checkpoint

    shipped: list[str] = []
    failed: list[str] = []
    folder = settings.HANDOVER_CHECKPOINT_SHIP_DIR
    if folder:
        try:
            shipped.append(f"folder:{checkpoint.ship_to_folder(written, folder)}")
        except OSError as exc:
            failed.append(f"folder:{folder}: {exc.strerror or exc}")
    recipients = list(settings.HANDOVER_CHECKPOINT_SHIP_EMAIL)
    if recipients:
        message = EmailMessage(
            subject=f"Handover audit checkpoint {seq}",
            body=(
                f"Signed head of the Handover audit trail at event {seq}. Keep this file: "
                "`handover audit verify --checkpoint FILE` with the audit public key detects a rewrite before it."
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=recipients,
        )
        message.attach(written.name, written.read_bytes(), "application/json")
        try:
            message.send(fail_silently=False)
            shipped.extend(f"email:{address}" for address in recipients)
        except OSError as exc:
            failed.extend(f"email:{address}: {exc.strerror or exc}" for address in recipients)
    return shipped, failed


def trail_read(
    *,
    actor: Actor,
    scope: selectors.TrailScope,
    filters: dict[str, Any] | None = None,
    export_format: str | None = None,
) -> QuerySet[Event]:
    """The events ``actor`` may read within ``scope``, filtered; reading the trail is itself a sensitive read
    (DESIGN.md decision 3), so it writes its event (``audit.view``, or ``audit.export`` with the format)
    whichever face asks. Bad filters are refused before anything is recorded."""
    if not scope.engagement_ids:
        raise PermissionDenied(_("You do not have the role needed to read the audit trail."))
    found = selectors.event_list(scope=scope, filters=filters)
    after: dict[str, Any] = {"filters": dict(filters or {})}
    if export_format is not None:
        after = {"format": export_format, **after}
    event_record(
        actor=actor,
        action=events.EXPORT if export_format is not None else events.VIEW,
        object_type="audit.event",
        after=after,
    )
    return found


def chain_verify(*, actor: Actor) -> tuple[verify.Report, int]:
    """The auditor's "verify the chain" (UX review M7): every event's hash and link, and the signed checkpoints in
    the deployment's folders when a trusted public key is configured (HANDOVER_AUDIT_PUBLIC_KEY; ``handover audit
    verify --public-key`` with a key kept off the server is the stronger check). Records its own event; answers the
    report and how many checkpoints it checked."""
    checkpoints, unreadable = [], []
    trusted = settings.HANDOVER_AUDIT_PUBLIC_KEY
    if trusted is not None:
        key = checkpoint.load_public_key(trusted)
        for path in [
            *checkpoint.files_in(settings.HANDOVER_CHECKPOINT_DIR),
            *checkpoint.files_in(settings.HANDOVER_CHECKPOINT_SHIP_DIR),
        ]:
            try:
                checkpoints.append(checkpoint.read(path, key))
            except checkpoint.CheckpointError as exc:
                unreadable.append(verify.Problem("forged", 0, str(exc)))
    # One process: this runs inside a web worker, which must not fork or drop its connection mid-request.
    report = selectors.verify_chain(algorithm=settings.HANDOVER_AUDIT_HASH, checkpoints=checkpoints, jobs=1)
    report.problems[:0] = unreadable
    event_record(
        actor=actor,
        action=events.VERIFY,
        object_type="audit.event",
        after={
            "events": report.events,
            "head_seq": report.head_seq,
            "checkpoints": len(checkpoints),
            "problems": [f"{p.kind} {p.seq}" for p in report.problems[:20]],
        },
        outcome=Outcome.SUCCESS if report.ok else Outcome.FAILURE,
    )
    return report, len(checkpoints)
