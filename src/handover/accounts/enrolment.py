"""One-time enrolment codes: a new or reset login is taken by its holder, never by whoever created or reset it.

The system administrator creates or resets a login; the result is a one-time code (shown once, expiring, only
its hash stored) that goes to the holder out of band. The holder opens /accounts/enrol/<code>/, sets their own
password and scans a fresh TOTP seed. Until then the login holds no role (org.selectors.grants_for). A reset of
a login whose person holds vault or signing roles waits for a second 技术组 member, who receives the code.
第八条 and 第二十二条: no single person reaches a secret or signs for the firm (docs/access-policy.md).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.accounts import events
from handover.accounts.models import EnrolmentCode, EnrolmentKind, EnrolmentVia, User
from handover.audit.models import Outcome
from handover.audit.services import event_record
from handover.core import localkey
from handover.core.actors import Actor, SystemActor, actor_name
from handover.core.errors import DomainError, NotFound, PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Role, RoleAssignment
from handover.org.selectors import grants_for, persons_of_login


@dataclass(frozen=True)
class Issued:
    """A code as handed over once: the clear code exists only here, never in the database or the trail."""

    enrolment: EnrolmentCode
    code: str | None

    def __repr__(self) -> str:
        return f"Issued(enrolment={self.enrolment.pk}, code=<hidden>)"


def code_digest(code: str) -> str:
    """What is stored and kept in the holder's session: never the code itself (it is never in a URL either)."""
    return hashlib.sha256(code.strip().encode()).hexdigest()


def _actor_user(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) else None


def _actor_name(actor: Actor) -> str:
    return actor_name(actor)


def require_account_admin(*, actor: Actor, user: User | None = None) -> None:
    """三权分立: only a system administrator (over this login, if named) creates or resets logins."""
    if isinstance(actor, SystemActor):
        return
    from handover.accounts import selectors

    logins = selectors.account_list(user=actor)
    if user is not None and not logins.filter(pk=user.pk).exists():
        raise NotFound(_("No login account %(id)s is open to you.") % {"id": user.pk})


def login_is_guarded(*, user: User) -> bool:
    """True when the login's person holds (anywhere) a role with vault or signing capabilities."""
    return RoleAssignment.objects.filter(
        person__user=user, revoked_at__isnull=True, role__in=perms.CREDENTIAL_GUARDED_ROLES
    ).exists()


def _new_code(enrolment: EnrolmentCode) -> str:
    code = secrets.token_urlsafe(24)
    enrolment.code_hash = code_digest(code)
    enrolment.expires_at = timezone.now() + timedelta(hours=settings.HANDOVER_ENROLMENT_CODE_HOURS)
    return code


def _withdraw_credentials(*, actor: Actor, user: User, kind: str) -> None:
    """A reset ends the old credential: the password (unless only the factor is reset), the seed, every session
    and API token."""
    from handover.accounts.services import credentials_revoke  # services imports this module

    fields = ["totp_secret_sealed", "totp_confirmed_at", "enrolled_at", "enrolled_via"]
    if kind != EnrolmentKind.FACTOR_RESET:
        user.set_unusable_password()
        fields.append("password")
    user.totp_secret_sealed, user.totp_confirmed_at = "", None
    user.enrolled_at, user.enrolled_via = None, ""
    user.save(update_fields=fields)
    vars(user).pop("_handover_grants", None)
    credentials_revoke(user=user, reason=f"enrolment.{kind}", actor=actor)
    EnrolmentCode.objects.filter(user=user, used_at__isnull=True, cancelled_at__isnull=True).update(
        cancelled_at=timezone.now()
    )


def _issue(*, actor: Actor, enrolment: EnrolmentCode) -> str:
    """Withdraw the login's credentials and make the code; the caller holds the transaction."""
    _withdraw_credentials(actor=actor, user=enrolment.user, kind=enrolment.kind)
    code = _new_code(enrolment)
    enrolment.save()
    event_record(
        actor=actor,
        action=events.ENROLMENT_ISSUED,
        obj=enrolment.user,
        after={"enrolment": enrolment.pk, "kind": enrolment.kind, "expires_at": enrolment.expires_at},
    )
    return code


def enrolment_issue_new(*, actor: Actor, user: User) -> Issued:
    """The first code of a login just created (it holds no role yet, so no approval is needed)."""
    enrolment = EnrolmentCode(
        user=user, kind=EnrolmentKind.NEW, created_by=_actor_user(actor), created_by_name=_actor_name(actor)
    )
    code = _issue(actor=actor, enrolment=enrolment)
    return Issued(enrolment, code)


def login_reset(*, actor: Actor, user: User, kind: str) -> Issued:
    """Reset a login's password and factor (``reset``) or only its factor (``factor_reset``).

    For a login whose person holds vault or signing roles the reset becomes a request, and the code is issued
    only when a second 技术组 member approves it (``Issued.code`` is None until then)."""
    if kind not in (EnrolmentKind.RESET, EnrolmentKind.FACTOR_RESET):
        raise DomainError(_("Unknown kind of reset."), field="kind")
    if _actor_user(actor) is not None and actor.pk == user.pk:
        raise DomainError(_("Nobody resets their own login: ask another administrator."), field="user")
    require_account_admin(actor=actor, user=user)
    guarded = login_is_guarded(user=user)
    with transaction.atomic():
        enrolment = EnrolmentCode(
            user=user,
            kind=kind,
            created_by=_actor_user(actor),
            created_by_name=_actor_name(actor),
            needs_approval=guarded,
        )
        if guarded:
            enrolment.save()
            event_record(
                actor=actor,
                action=events.ENROLMENT_REQUESTED,
                obj=user,
                after={"enrolment": enrolment.pk, "kind": kind},
            )
            return Issued(enrolment, None)
        return Issued(enrolment, _issue(actor=actor, enrolment=enrolment))


def _tech_group_engagements(*, actor: Actor, user: User) -> set[int]:
    """Engagements where ``actor`` holds 技术组 and ``user`` stands for a person."""
    mine = {g.engagement_id for g in grants_for(actor) if g.role == Role.TECH_GROUP}
    theirs = set(user.persons.values_list("engagement_id", flat=True))
    return mine & theirs


def _approval_problem(*, actor: Actor, enrolment: EnrolmentCode) -> DomainError | None:
    if not enrolment.needs_approval or enrolment.approved_by_id or enrolment.cancelled_at:
        return DomainError(_("This reset is not waiting for an approval."), code="decided")
    if not _tech_group_engagements(actor=actor, user=enrolment.user):
        return PermissionDenied(
            _("Only a member of the 技术组 of the login's engagement approves its reset.")
        )
    involved = {enrolment.user_id, enrolment.created_by_id}
    mine = persons_of_login(user=actor)
    others = persons_of_login(user=enrolment.user)
    if enrolment.created_by is not None:
        others |= persons_of_login(user=enrolment.created_by)
    if actor.pk in involved or mine & others:
        return PermissionDenied(
            _(
                "Nobody approves a reset they asked for or a reset of their own login: "
                "a second 技术组 member must approve it."
            )
        )
    return None


def _locked_for_decision(*, actor: Actor, enrolment: EnrolmentCode) -> EnrolmentCode:
    """The waiting reset, locked for this transaction, once ``actor`` may decide it (approve or refuse)."""
    locked = (
        EnrolmentCode.objects.select_for_update(of=("self",))
        .select_related("user", "created_by")
        .get(pk=enrolment.pk)
    )
    problem = _approval_problem(actor=actor, enrolment=locked)
    if problem is not None:
        raise problem
    return locked


def login_reset_approve(*, actor: Actor, enrolment: EnrolmentCode) -> Issued:
    """A second 技术组 member approves a guarded reset; the code is issued to them, for the holder."""
    with transaction.atomic():
        enrolment = _locked_for_decision(actor=actor, enrolment=enrolment)
        enrolment.approved_by, enrolment.approved_at = _actor_user(actor), timezone.now()
        event_record(
            actor=actor,
            action=events.ENROLMENT_APPROVED,
            obj=enrolment.user,
            after={"enrolment": enrolment.pk, "requested_by": enrolment.created_by_name},
        )
        code = _issue(actor=actor, enrolment=enrolment)
    return Issued(enrolment, code)


def login_reset_refuse(*, actor: Actor, enrolment: EnrolmentCode) -> EnrolmentCode:
    """Turn a guarded reset down; the login keeps its credentials."""
    with transaction.atomic():
        enrolment = _locked_for_decision(actor=actor, enrolment=enrolment)
        enrolment.cancelled_at = timezone.now()
        enrolment.save(update_fields=["cancelled_at"])
        event_record(
            actor=actor,
            action=events.ENROLMENT_REFUSED,
            obj=enrolment.user,
            after={"enrolment": enrolment.pk},
        )
    return enrolment


def resets_waiting(*, user: Actor) -> QuerySet[EnrolmentCode]:
    """Guarded resets of logins in the engagements where ``user`` is 技术组, waiting for approval."""
    ids = {g.engagement_id for g in grants_for(user) if g.role == Role.TECH_GROUP}
    return (
        EnrolmentCode.objects.filter(
            needs_approval=True,
            approved_by__isnull=True,
            cancelled_at__isnull=True,
            user__persons__engagement_id__in=ids,
        )
        .select_related("user")
        .distinct()
    )


def reset_waiting_get(*, user: Actor, enrolment_id: int) -> EnrolmentCode:
    enrolment = resets_waiting(user=user).filter(pk=enrolment_id).first()
    if enrolment is None:
        raise NotFound(_("No reset %(id)s is waiting for you.") % {"id": enrolment_id})
    return enrolment


def enrolment_for_digest(*, digest: str) -> EnrolmentCode:
    """The usable enrolment a code (by its digest) opens; the same message for unknown, used and expired codes."""
    enrolment = (
        EnrolmentCode.objects.select_related("user", "approved_by")
        .filter(code_hash=digest, used_at__isnull=True, cancelled_at__isnull=True)
        .exclude(code_hash="")
        .first()
    )
    if enrolment is None or enrolment.expires_at is None or enrolment.expires_at <= timezone.now():
        raise NotFound(
            _("This enrolment code is unknown, used or expired. Ask a system administrator for a new one."),
            field="code",
        )
    if not enrolment.user.is_active:
        raise NotFound(_("This login account is disabled."), field="code")
    return enrolment


def _refuse(enrolment: EnrolmentCode, message: str, field: str) -> DomainError:
    event_record(
        actor=None,
        action=events.ENROLMENT_FAILED,
        obj=enrolment.user,
        outcome=Outcome.FAILURE,
        after={"enrolment": enrolment.pk, "field": field},
    )
    return DomainError(message, field=field)


def enrolment_complete(
    *, digest: str, password: str, current_password: str = "", totp_secret: str, totp_code: str
) -> User:
    """The holder sets their own password (or proves it, for a factor reset) and confirms a fresh TOTP seed.

    The code works once: the first to mark it used wins, and a failed attempt leaves everything unchanged."""
    enrolment = enrolment_for_digest(digest=digest)
    user = enrolment.user
    if enrolment.approved_by_id is None and login_is_guarded(user=user):
        # The login was given vault or signing roles after its code was issued by one person alone.
        raise _refuse(
            enrolment,
            _(
                "This login now holds vault or signing roles, and its code was issued by one person alone. "
                "Ask for a reset: a second 技术组 member approves it and hands you a new code."
            ),
            "code",
        )
    if enrolment.kind == EnrolmentKind.FACTOR_RESET:
        if not user.check_password(current_password):
            raise _refuse(enrolment, _("The current password is wrong."), "current_password")
    else:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages), field="password") from exc
    if not pyotp.TOTP(totp_secret).verify(totp_code.strip().replace(" ", ""), valid_window=1):
        raise DomainError(
            _("The code does not match. Scan the QR code again and enter the current code."),
            field="totp_code",
        )
    with transaction.atomic():
        now = timezone.now()
        if not EnrolmentCode.objects.filter(
            pk=enrolment.pk, used_at__isnull=True, cancelled_at__isnull=True
        ).update(used_at=now):
            raise NotFound(_("This enrolment code was used just now."), field="code")
        user = User.objects.select_for_update().get(pk=user.pk)
        if enrolment.kind != EnrolmentKind.FACTOR_RESET:
            user.set_password(password)
        user.totp_secret_sealed = localkey.seal(totp_secret)
        user.totp_confirmed_at = user.enrolled_at = now
        user.enrolled_via = EnrolmentVia.CODE
        user.last_totp_step, user.failed_logins, user.locked_until = 0, 0, None
        user.save()
        event_record(
            actor=user,
            action=events.ENROLMENT_COMPLETED,
            obj=user,
            after={
                "enrolment": enrolment.pk,
                "kind": enrolment.kind,
                "requested_by": enrolment.created_by_name,
                "approved_by": enrolment.approved_by.get_username() if enrolment.approved_by else "",
            },
        )
    return user


def login_bootstrap_console(*, actor: SystemActor, user: User, password: str | None) -> None:
    """The operator at the server's console takes a login directly (``handover demo``).

    Whoever holds the console holds the data folder and the database already, so this hands them nothing new;
    it is recorded as such on every login it touches, and only a system actor may do it."""
    if not isinstance(actor, SystemActor):
        raise PermissionDenied(_("Only the operator at the console bootstraps a login."))
    with transaction.atomic():
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.enrolled_at, user.enrolled_via = timezone.now(), EnrolmentVia.CONSOLE
        user.failed_logins, user.locked_until = 0, None
        user.save(update_fields=["password", "enrolled_at", "enrolled_via", "failed_logins", "locked_until"])
        vars(user).pop("_handover_grants", None)
        event_record(
            actor=actor,
            action=events.ENROLMENT_CONSOLE,
            obj=user,
            after={"password_set": password is not None},
        )


def credential_is_fresh(*, user: User) -> bool:
    """Reset or enrolled by its holder within HANDOVER_FRESH_CREDENTIAL_HOURS (console bootstraps excepted)."""
    if user.enrolled_at is None:
        return True
    if user.enrolled_via == EnrolmentVia.CONSOLE:
        return False
    return user.enrolled_at > timezone.now() - timedelta(hours=settings.HANDOVER_FRESH_CREDENTIAL_HOURS)
