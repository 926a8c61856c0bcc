"""Writes of the vault's secrets: capture, change, the two-person reveal, and use by background tasks.

Each service checks the actor's capability at the secret's site, writes in one transaction with its audit
event, and lets no secret reach an event, an exception or a log line. A reveal writes its event before the
secret is decrypted and returns the value only once the transaction has committed, so a reveal whose
audit event cannot be written shows nothing (DESIGN decision 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from handover.accounts.enrolment import credential_is_fresh
from handover.accounts.models import User
from handover.accounts.services import totp_verify
from handover.audit.models import Outcome
from handover.audit.services import event_record
from handover.core.actors import Actor, actor_name, actor_user, system
from handover.core.errors import DomainError, NotFound, PermissionDenied
from handover.notifications.links import Link
from handover.notifications.services import notify
from handover.org import permissions as perms
from handover.org.models import Engagement, Person, Site
from handover.org.selectors import (
    granters_of_login,
    has_capability,
    logins_of_person_set,
    persons_of_login,
    require,
)
from handover.registers import inventory
from handover.registers.definitions.common import ACCOUNT_CLASS, ACCOUNT_LAYER
from handover.registers.models import Account
from handover.vault import events, passwords, topics
from handover.vault.crypto import envelope
from handover.vault.crypto.envelope import SealedSecret
from handover.vault.keeper import Keeper, KeeperError
from handover.vault.lifecycle import keeper_error, require_unsealed
from handover.vault.models import (
    CustodyMode,
    RevealRequest,
    RevealStatus,
    SecretEntry,
    SecretKind,
    SecretVersion,
    VerifyResult,
    record_id_for,
)


def _seal(keeper: Keeper, config: Any, plaintext: str, record_id: str) -> bytes:
    data_key = envelope.new_data_key(config.cipher_name)
    try:
        wrapped = keeper.wrap(
            data_key, record_id=record_id, cipher_name=config.cipher_name, check_value=config.check_value
        )
    except KeeperError as exc:
        raise keeper_error(exc) from None
    sealed = envelope.seal_with_data_key(
        data_key, wrapped, plaintext.encode(), record_id=record_id, cipher_name=config.cipher_name
    )
    return sealed.to_bytes()


def _open(keeper: Keeper, config: Any, version: SecretVersion, *, actor: Actor, cause: str) -> str:
    """The secret of ``version``. Every unwrap is an audit event naming the record it was for, written in
    the caller's transaction before the keeper is asked: the keeper has no trail of its own."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("A vault secret is opened only inside the transaction of its audit event.")
    sealed = SealedSecret.from_bytes(bytes(version.sealed))
    event_record(
        actor=actor,
        action=events.UNWRAP,
        engagement_id=version.entry.engagement_id,
        site_id=version.entry.site_id,
        obj=version.entry,
        after={"record": version.record_id, "version": version.number, "for": cause},
    )
    try:
        data_key = keeper.unwrap(sealed, record_id=version.record_id, check_value=config.check_value)
    except KeeperError as exc:
        raise keeper_error(exc) from None
    return envelope.open_with_data_key(data_key, sealed, record_id=version.record_id).decode()


def _context_names(account: Account) -> list[str]:
    return [account.login_name, account.asset.hostname if account.asset else "", account.system.name]


def _check_strength(*, secret: str, kind: str, account: Account) -> int:
    """第三十一条第1项: a new password must be strong; an original (表9) is recorded as received, since
    refusing it would lose the only copy, and a weak original is exactly what the 表10 change replaces."""
    if not secret:
        raise DomainError(_("Enter the secret."), field="secret")
    if kind != SecretKind.ORIGINAL:
        passwords.strength_check(secret, context=_context_names(account))
    return passwords.strength_score(secret)


@dataclass(frozen=True)
class Custody:
    """Where the secret is kept besides the vault (第二十条第6项) and who holds it."""

    mode: str = CustodyMode.VAULT
    envelope_no: str = ""
    safe: str = ""
    holders: tuple[Person, ...] = ()


def _apply_custody(entry: SecretEntry, custody: Custody) -> None:
    if custody.mode == CustodyMode.ENVELOPE and not custody.envelope_no.strip():
        raise DomainError(_("A sealed envelope needs its number."), field="envelope_no")
    entry.custody_mode = custody.mode
    entry.envelope_no, entry.safe = custody.envelope_no.strip(), custody.safe.strip()


def secret_capture(
    *,
    actor: Actor,
    account: Account,
    secret: str,
    kind: str,
    custody: Custody | None = None,
    reason: str = "",
    generated: bool = False,
    change_interval_days: int | None = None,
    keeper: Keeper | None = None,
) -> SecretEntry:
    """Store ``secret`` as the newest version of ``account``'s vault entry (created on first capture).

    ``kind`` says which register it answers: the original as received (表9), or a new one set on the
    handover day (表10) or later (表27), which also sets the next periodic change date.
    """
    site = account.system.site
    require(user=actor, engagement=account.engagement, capability=perms.VAULT_CAPTURE, site=site)
    if kind not in SecretKind.values:
        raise DomainError(_("Unknown kind of secret."), field="kind")
    score = _check_strength(secret=secret, kind=kind, account=account)
    keeper, config = require_unsealed(keeper)
    custody = custody or Custody()
    with transaction.atomic():
        entry = _entry_for(account=account, site=site)
        _apply_custody(entry, custody)
        number = (entry.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        version = SecretVersion(
            entry=entry,
            number=number,
            kind=kind,
            reason=reason,
            generated=generated,
            strength_score=score,
            created_by=actor if isinstance(actor, User) else None,
            created_by_name=_actor_name(actor),
            sealed=_seal(keeper, config, secret, record_id_for(entry_id=entry.pk, number=number)),
        )
        version.save()
        _stamp(entry, kind=kind, interval=change_interval_days)
        if custody.holders:
            entry.holders.set(custody.holders)
        event_record(
            actor=actor,
            action=events.SECRET_CAPTURE if number == 1 else events.SECRET_CHANGE,
            engagement_id=entry.engagement_id,
            site_id=entry.site_id,
            obj=entry,
            after={
                "version": number,
                "kind": kind,
                "reason": reason,
                "generated": generated,
                "strength": score,
                "custody_mode": entry.custody_mode,
                "envelope_no": entry.envelope_no,
                "holders": sorted(p.pk for p in custody.holders),
            },
        )
    return entry


def _entry_for(*, account: Account, site: Site) -> SecretEntry:
    entry = SecretEntry.objects.select_for_update().filter(account=account).first()
    if entry is not None:
        return entry
    # The site's row is locked so that two first captures at one site cannot take the same number.
    Site.objects.select_for_update().filter(pk=site.pk).first()
    last = SecretEntry.objects.filter(site=site).order_by("-number").values_list("number", flat=True).first()
    return SecretEntry.objects.create(
        engagement=account.engagement,
        site=site,
        account=account,
        number=(last or 0) + 1,
        captured_at=timezone.now(),
    )


def entry_open_unknown(*, actor: Actor, account: Account) -> SecretEntry:
    """The entry of an account whose original password is not obtainable (第二十八条第2项, E02): opened without
    a secret, so that the reset by a higher account seals its first version write-ahead like any change. An
    entry that exists is returned as it is."""
    with transaction.atomic():
        entry = _entry_for(account=account, site=account.system.site)
        event_record(actor=actor, action=events.ENTRY_OPEN, engagement_id=entry.engagement_id,
                     site_id=entry.site_id, obj=entry, after={"account": account.login_name})  # fmt: skip
    return entry


def _stamp(entry: SecretEntry, *, kind: str, interval: int | None) -> None:
    """表27: a new password starts the clock to its next periodic change."""
    now = timezone.now()
    if interval:
        entry.change_interval_days = interval
    if kind != SecretKind.ORIGINAL:
        entry.changed_at = now
        entry.next_due_on = timezone.localdate(now) + timedelta(days=entry.change_interval_days)
    entry.verify_result = VerifyResult.UNVERIFIED
    entry.save()


def _actor_name(actor: Actor) -> str:
    return actor_name(actor)


@dataclass(frozen=True)
class Target:
    """Where ``handover vault put`` stores a secret: the registers' entities, created when missing."""

    engagement: Engagement
    site: Site
    system_name: str
    hostname: str
    login_name: str
    layer: str = "操作系统"
    account_class: str = "超级用户"


def secret_put(
    *,
    actor: Actor,
    target: Target,
    secret: str,
    kind: str = SecretKind.ORIGINAL,
    keeper: Keeper | None = None,
    **capture: Any,
) -> SecretEntry:
    """Find or create the system, host and account of ``target`` and store ``secret`` for it, all in
    one transaction: a refused secret (sealed vault, weak password) leaves no half-made entities.
    ``capture`` goes on to ``secret_capture`` (custody, reason, generated)."""
    _check_target(target)
    require_unsealed(keeper)
    with transaction.atomic():
        found = inventory.system_ensure(
            actor=actor, engagement=target.engagement, site=target.site, name=target.system_name
        )
        asset = None
        if target.hostname:
            asset = inventory.asset_ensure(
                actor=actor,
                engagement=target.engagement,
                site=target.site,
                hostname=target.hostname,
                system=found,
            )
        account = inventory.account_ensure(
            actor=actor,
            system=found,
            login_name=target.login_name,
            layer=target.layer,
            account_class=target.account_class,
            asset=asset,
        )
        return secret_capture(
            actor=actor, account=account, secret=secret, kind=kind, keeper=keeper, **capture
        )


def _check_target(target: Target) -> None:
    if target.layer not in {c.zh for c in ACCOUNT_LAYER}:
        raise DomainError(
            _("Unknown layer %(value)s: use one of %(values)s.")
            % {"value": target.layer, "values": "、".join(c.zh for c in ACCOUNT_LAYER)},
            field="layer",
        )
    if target.account_class not in {c.zh for c in ACCOUNT_CLASS}:
        raise DomainError(
            _("Unknown account class %(value)s: use one of %(values)s.")
            % {"value": target.account_class, "values": "、".join(c.zh for c in ACCOUNT_CLASS)},
            field="class",
        )
    for field, value in (("system", target.system_name), ("account", target.login_name)):
        if not value.strip():
            raise DomainError(_("This field is required."), field=field)


def secret_verify_record(*, actor: Actor, entry: SecretEntry, result: str) -> SecretEntry:
    """Record a login test with the stored secret (表9/10 登录验证)."""
    require(user=actor, engagement=entry.engagement, capability=perms.VAULT_CAPTURE, site=entry.site)
    if result not in VerifyResult.values:
        raise DomainError(_("Unknown verification result."), field="result")
    with transaction.atomic():
        entry.verify_result = result
        entry.last_verified_at = timezone.now()
        entry.save(update_fields=["verify_result", "last_verified_at"])
        event_record(
            actor=actor,
            action=events.SECRET_VERIFY,
            engagement_id=entry.engagement_id,
            site_id=entry.site_id,
            obj=entry,
            after={"result": result},
        )
    return entry


# -- the two-person reveal -------------------------------------------------------------------------
def _denied(*, actor: Actor, request: RevealRequest, step: str, why: str) -> None:
    """Record a refused step in its own transaction, so the refusal is evidence even though it raises."""
    with transaction.atomic():
        event_record(
            actor=actor,
            action=events.REVEAL_DENIED,
            engagement_id=request.entry.engagement_id,
            site_id=request.entry.site_id,
            obj=request,
            outcome=Outcome.DENIED,
            after={"step": step, "why": why, "entry": str(request.entry_id)},
        )


def _fresh(request: RevealRequest) -> RevealRequest:
    """The request as stored now: a decision made elsewhere counts, not the caller's old copy."""
    return RevealRequest.objects.select_related("entry", "entry__engagement", "entry__site").get(
        pk=request.pk
    )


def reveal_request_create(*, actor: Actor, entry: SecretEntry, reason: str, purpose: str) -> RevealRequest:
    """Ask to see ``entry``'s secret once; someone else must approve it."""
    require(user=actor, engagement=entry.engagement, capability=perms.VAULT_REQUEST, site=entry.site)
    reason = reason.strip()
    if len(reason) < 2:
        raise DomainError(_("Say why you need to see this secret."), field="reason")
    if purpose not in ("view", "envelope"):
        raise DomainError(_("Unknown purpose."), field="purpose")
    with transaction.atomic():
        request = RevealRequest.objects.create(
            entry=entry, requester=actor_user(actor), reason=reason, purpose=purpose
        )
        event_record(
            actor=actor,
            action=events.REVEAL_REQUEST,
            engagement_id=entry.engagement_id,
            site_id=entry.site_id,
            obj=request,
            after={"entry": str(entry.pk), "purpose": purpose, "reason": reason},
        )
        # 第二十二条: those who may approve it are told; notify leaves out every person of the requester.
        notify(
            actor=actor,
            engagement=entry.engagement,
            topic=topics.REVEAL_REQUEST,
            site=entry.site,
            title=_("%(site)s: %(who)s asks to see the secret %(entry)s")
            % {"site": entry.site.name, "who": _actor_name(actor), "entry": entry.reference},
            body=reason,
            link=Link("vault:request_list", code=entry.engagement.code),
            summary_title=_("A secret asked to be revealed"),
        )
    return request


def _approval_problem(*, actor: Actor, request: RevealRequest) -> tuple[str, DomainError] | None:
    entry = request.entry
    if request.status != RevealStatus.PENDING:
        return "decided", DomainError(_("This request was already decided."), code="decided")
    if actor.pk == request.requester_id:
        return "self", PermissionDenied(_("Nobody approves their own request: ask another person."))
    # 第二十二条 and review H1: two persons, not two logins; a person relinked to a second login is still one.
    approver_persons = persons_of_login(user=actor)
    requester_persons = persons_of_login(user=request.requester)
    if approver_persons & requester_persons:
        return "same_person", PermissionDenied(
            _("Nobody approves their own request, from any of their logins: ask another person.")
        )
    # 三权分立 and design rule 9: a person who gave the other side its login link or its roles is that side too.
    approver_logins = {actor.pk} | logins_of_person_set(person_ids=approver_persons)
    requester_logins = {request.requester_id} | logins_of_person_set(person_ids=requester_persons)
    if (
        granters_of_login(user=actor) & requester_logins
        or granters_of_login(user=request.requester) & approver_logins
    ):
        return "granted_by_other", PermissionDenied(
            _(
                "The approver's login or roles were given by the requester, or the other way round: "
                "ask a person whose access came from someone else."
            )
        )
    if not has_capability(
        user=actor, engagement=entry.engagement, capability=perms.VAULT_APPROVE, site=entry.site
    ):
        return "role", PermissionDenied(
            _("Only the 现场技术岗位 of this site or the 技术组 may approve this reveal.")
        )
    if not getattr(actor, "has_totp", False):
        return "no_totp", PermissionDenied(
            _("Approving a reveal needs a second factor: set one up on your account first.")
        )
    if credential_is_fresh(user=actor_user(actor)):
        return "fresh", PermissionDenied(
            ngettext(
                "Your login was reset or enrolled less than %(hours)d hour ago; it cannot approve a reveal yet. "
                "Ask another approver.",
                "Your login was reset or enrolled less than %(hours)d hours ago; it cannot approve a reveal yet. "
                "Ask another approver.",
                settings.HANDOVER_FRESH_CREDENTIAL_HOURS,
            )
            % {"hours": settings.HANDOVER_FRESH_CREDENTIAL_HOURS}
        )
    return None


def reveal_approve(*, actor: Actor, request: RevealRequest, totp_code: str) -> RevealRequest:
    """Approve another person's request with a fresh TOTP code (each code works once)."""
    request = _fresh(request)
    problem = _approval_problem(actor=actor, request=request)
    if problem is not None:
        _denied(actor=actor, request=request, step="approve", why=problem[0])
        raise problem[1]
    try:
        # The stored last-used step, not the caller's copy of the user: a code works once.
        totp_verify(user=User.objects.get(pk=actor_user(actor).pk), code=totp_code, approving=True)
    except DomainError:
        _denied(actor=actor, request=request, step="approve", why="totp")
        raise
    with transaction.atomic():
        locked = RevealRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status != RevealStatus.PENDING:
            raise DomainError(_("This request was already decided."), code="decided")
        now = timezone.now()
        locked.status, locked.approver, locked.decided_at = RevealStatus.APPROVED, actor_user(actor), now
        locked.expires_at = now + timedelta(minutes=settings.HANDOVER_VAULT_REVEAL_MINUTES)
        locked.save(update_fields=["status", "approver", "decided_at", "expires_at"])
        event_record(
            actor=actor,
            action=events.REVEAL_APPROVE,
            engagement_id=request.entry.engagement_id,
            site_id=request.entry.site_id,
            obj=locked,
            after={"entry": str(request.entry_id), "requester": locked.requester.get_username()},
        )
    return locked


def reveal_refuse(*, actor: Actor, request: RevealRequest) -> RevealRequest:
    """Turn a request down; only someone who could approve it may (no second factor: it opens nothing)."""
    request = _fresh(request)
    problem = _approval_problem(actor=actor, request=request)
    if problem is not None and problem[0] not in ("no_totp", "fresh"):
        raise problem[1]
    with transaction.atomic():
        locked = RevealRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status != RevealStatus.PENDING:
            raise DomainError(_("This request was already decided."), code="decided")
        locked.status, locked.approver, locked.decided_at = (
            RevealStatus.REFUSED,
            actor_user(actor),
            timezone.now(),
        )
        locked.save(update_fields=["status", "approver", "decided_at"])
        event_record(
            actor=actor,
            action=events.REVEAL_REFUSE,
            engagement_id=request.entry.engagement_id,
            site_id=request.entry.site_id,
            obj=locked,
        )
    return locked


@dataclass(frozen=True)
class Revealed:
    """A secret shown once: the value, with the request (requester and approver named) it spent."""

    value: str
    request: RevealRequest
    version: SecretVersion

    def __repr__(self) -> str:
        return f"Revealed(request={self.request.pk}, version={self.version.pk})"


def _open_problem(*, actor: Actor, request: RevealRequest) -> tuple[str, DomainError] | None:
    if actor.pk != request.requester_id:
        return "not_requester", NotFound(_("No such reveal is waiting for you."), field="request")
    if request.status == RevealStatus.SPENT:
        return "spent", DomainError(
            _("This reveal was already opened once and is spent. Ask again if you need it again."),
            code="spent",
        )
    if request.status != RevealStatus.APPROVED:
        return "not_approved", DomainError(_("This request is not approved."), code="not_approved")
    if request.expires_at is None or request.expires_at <= timezone.now():
        return "lapsed", DomainError(_("The approval has lapsed unopened. Ask again."), code="lapsed")
    return None


def reveal_open(*, actor: Actor, request: RevealRequest, keeper: Keeper | None = None) -> Revealed:
    """Spend the approved grant and return the secret, once. Refused while sealed, and refused (nothing
    decrypted, the grant kept) if its audit event cannot be written."""
    request = _fresh(request)
    problem = _open_problem(actor=actor, request=request)
    if problem is not None:
        _denied(actor=actor, request=request, step="open", why=problem[0])
        raise problem[1]
    keeper, config = require_unsealed(keeper)
    with transaction.atomic():
        locked = RevealRequest.objects.select_for_update().get(pk=request.pk)
        problem = _open_problem(actor=actor, request=locked)
        if problem is not None:
            raise problem[1]
        version = current_version(locked.entry)
        if version is None:
            raise NotFound(_("This vault entry holds no secret yet."), field="entry")
        locked.status, locked.spent_at = RevealStatus.SPENT, timezone.now()
        locked.save(update_fields=["status", "spent_at"])
        event_record(
            actor=actor,
            action=events.REVEAL_OPEN,
            engagement_id=locked.entry.engagement_id,
            site_id=locked.entry.site_id,
            obj=locked,
            after={
                "entry": str(locked.entry_id),
                "version": version.number,
                "purpose": locked.purpose,
                "requester": locked.requester.get_username(),
                "approver": locked.approver.get_username() if locked.approver else "",
            },
        )
        # Decrypted only after its event is in the transaction; returned only after the commit.
        value = _open(keeper, config, version, actor=actor, cause=events.REVEAL_OPEN)
    return Revealed(value=value, request=locked, version=version)


# -- machines ----------------------------------------------------------------------------------------
def secret_use_for_task(
    *,
    entry_id: Any,
    purpose: str,
    task: str = "",
    keeper: Keeper | None = None,
    pending_number: int | None = None,
) -> str:
    """The current secret of entry ``entry_id`` for a background task (a connector changing or testing a
    password), or its live pending version ``pending_number`` (a rotation setting and proving it). Only while
    unsealed; the use is an audit event; the value goes to the caller alone."""
    if not purpose.strip():
        raise DomainError(_("Say what the task needs the secret for."), field="purpose")
    entry = SecretEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        raise NotFound(_("No vault entry %(id)s.") % {"id": entry_id}, field="entry")
    keeper, config = require_unsealed(keeper)
    if pending_number is None:
        version = current_version(entry)
    else:
        version = entry.versions.filter(
            number=pending_number, pending=True, abandoned_at__isnull=True
        ).first()
    if version is None:
        raise NotFound(_("This vault entry holds no secret yet."), field="entry")
    with transaction.atomic():
        event_record(
            actor=system("task"),
            action=events.TASK_USE,
            engagement_id=entry.engagement_id,
            site_id=entry.site_id,
            obj=entry,
            after={"version": version.number, "pending": version.pending, "purpose": purpose, "task": task},
        )
        value = _open(keeper, config, version, actor=system("task"), cause=events.TASK_USE)
    return value


# -- write-ahead rotation (issue 15) --------------------------------------------------------------------


def current_version(entry: SecretEntry) -> SecretVersion | None:
    """The version that logs in today: the newest that is not pending (a pending one is not yet proven)."""
    return entry.versions.filter(pending=False).order_by("-number").first()


def live_pending(entry: SecretEntry) -> SecretVersion | None:
    """The entry's pending version not abandoned (at most one: a rotation resumes with it)."""
    return entry.versions.filter(pending=True, abandoned_at__isnull=True).order_by("-number").first()


def secret_use_previous_for_task(
    *, entry_id: Any, before_number: int, purpose: str, task: str = "", keeper: Keeper | None = None
) -> str:
    """The secret that was current before version ``before_number`` (the newest earlier version ever made
    current), for a background task: a rotation searching configuration files for the password it replaced.
    Only while unsealed; the use is an audit event naming the version; the value goes to the caller alone."""
    if not purpose.strip():
        raise DomainError(_("Say what the task needs the secret for."), field="purpose")
    entry = SecretEntry.objects.filter(pk=entry_id).first()
    version = (
        entry.versions.filter(number__lt=before_number, pending=False).order_by("-number").first()
        if entry is not None
        else None
    )
    if entry is None or version is None:
        raise NotFound(_("This vault entry holds no earlier secret."), field="entry")
    keeper, config = require_unsealed(keeper)
    with transaction.atomic():
        event_record(
            actor=system("task"),
            action=events.TASK_USE,
            engagement_id=entry.engagement_id,
            site_id=entry.site_id,
            obj=entry,
            after={"version": version.number, "previous": True, "purpose": purpose, "task": task},
        )
        return _open(keeper, config, version, actor=system("task"), cause=events.TASK_USE)


def secret_stage(
    *,
    actor: Actor,
    entry: SecretEntry,
    secret: str,
    reason: str,
    kind: str = SecretKind.CHANGED,
    keeper: Keeper | None = None,
) -> SecretVersion:
    """Seal ``secret`` as a pending version of ``entry`` before the target is changed (write-ahead): if the
    change then happens and the machine stops, the secret the target holds is in the vault. Refused while
    another pending version is live (resume with it) and while sealed."""
    if kind == SecretKind.ORIGINAL:
        raise DomainError(_("A rotation sets a new secret, not the original."), field="kind")
    keeper, config = require_unsealed(keeper)
    with transaction.atomic():
        locked = SecretEntry.objects.select_for_update().get(pk=entry.pk)
        if live_pending(locked) is not None:
            raise DomainError(
                _("%(ref)s already has a pending secret: resume its rotation or abandon it first.")
                % {"ref": locked.reference},
                field="entry",
            )
        number = (locked.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        version = SecretVersion.objects.create(
            entry=locked,
            number=number,
            kind=kind,
            reason=reason,
            generated=True,
            strength_score=passwords.strength_score(secret),
            pending=True,
            created_by=actor if isinstance(actor, User) else None,
            created_by_name=_actor_name(actor),
            sealed=_seal(keeper, config, secret, record_id_for(entry_id=locked.pk, number=number)),
        )
        event_record(
            actor=actor,
            action=events.SECRET_STAGE,
            engagement_id=locked.engagement_id,
            site_id=locked.site_id,
            obj=locked,
            after={"version": number, "kind": kind, "reason": reason},
        )
    return version


def secret_stage_copy(
    *, actor: Actor, entry: SecretEntry, from_number: int, reason: str, keeper: Keeper | None = None
) -> SecretVersion:
    """Seal the value of ``entry``'s version ``from_number`` again as a new pending version: a revert to the
    original (第二十八条第1项 「恢复原密码」) goes through the same write-ahead steps as a change, the history kept
    (the restored value is the newest version once the target is proven to hold it). The value never leaves
    the vault."""
    source = entry.versions.filter(number=from_number, pending=False).first()
    if source is None:
        raise NotFound(_("No version %(n)d of this entry to restore.") % {"n": from_number}, field="version")
    keeper, config = require_unsealed(keeper)
    with transaction.atomic():
        value = _open(keeper, config, source, actor=actor, cause=events.SECRET_STAGE)
        try:
            return secret_stage(actor=actor, entry=entry, secret=value, reason=reason, keeper=keeper)
        finally:
            del value


def secret_promote(*, actor: Actor, version: SecretVersion, verified: str) -> SecretEntry:
    """The target holds the pending ``version``: it becomes current; ``verified`` is the ladder's outcome."""
    if verified not in VerifyResult.values:
        raise DomainError(_("Unknown verification result."), field="result")
    with transaction.atomic():
        locked = SecretVersion.objects.select_for_update().select_related("entry").get(pk=version.pk)
        if not locked.pending or locked.abandoned_at is not None:
            raise DomainError(_("Only a live pending secret can be made current."), field="version")
        locked.pending = False
        locked.save(update_fields=["pending"])
        entry = locked.entry
        _stamp(entry, kind=locked.kind, interval=None)
        entry.verify_result, entry.last_verified_at = verified, timezone.now()
        entry.save(update_fields=["verify_result", "last_verified_at"])
        event_record(
            actor=actor,
            action=events.SECRET_PROMOTE,
            engagement_id=entry.engagement_id,
            site_id=entry.site_id,
            obj=entry,
            after={"version": locked.number, "verified": verified},
        )
    return entry


def secret_abandon(*, actor: Actor, version: SecretVersion, why: str) -> SecretVersion:
    """The target does not hold the pending ``version``: it is kept, marked abandoned, never current."""
    with transaction.atomic():
        locked = SecretVersion.objects.select_for_update().select_related("entry").get(pk=version.pk)
        if not locked.pending or locked.abandoned_at is not None:
            raise DomainError(_("Only a live pending secret can be abandoned."), field="version")
        locked.abandoned_at = timezone.now()
        locked.save(update_fields=["abandoned_at"])
        event_record(
            actor=actor,
            action=events.SECRET_ABANDON,
            engagement_id=locked.entry.engagement_id,
            site_id=locked.entry.site_id,
            obj=locked.entry,
            after={"version": locked.number, "why": why[:500]},
        )
    return locked
