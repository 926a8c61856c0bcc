"""Login, lockout, second factor and account administration; each change writes its audit event."""

from __future__ import annotations

import secrets
import string
from datetime import timedelta
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from handover.accounts import enrolment, events
from handover.accounts.enrolment import Issued
from handover.accounts.models import User
from handover.audit.models import Outcome
from handover.audit.services import event_record
from handover.core import localkey
from handover.core.actors import SystemActor
from handover.core.errors import DomainError, PermissionDenied

TOTP_ISSUER = "Handover"


class LoginRefused(DomainError):
    """Wrong credentials, a locked account or a wrong code; the message never says which user exists."""


def _fail(user: User | None, username: str) -> None:
    with transaction.atomic():
        if user is None:
            event_record(
                actor=None,
                action=events.LOGIN_FAILED,
                object_type="accounts.user",
                object_id=username[:64],
                outcome=Outcome.FAILURE,
            )
            return
        user = User.objects.select_for_update().get(pk=user.pk)
        user.failed_logins += 1
        locked = user.failed_logins >= settings.HANDOVER_LOCKOUT_ATTEMPTS
        if locked:
            user.locked_until = timezone.now() + timedelta(seconds=settings.HANDOVER_LOCKOUT_SECONDS)
            user.failed_logins = 0
        user.save(update_fields=["failed_logins", "locked_until"])
        event_record(
            actor=None,
            action=events.LOGIN_FAILED,
            obj=user,
            outcome=Outcome.FAILURE,
            after={"username": user.username},
        )
        if locked:
            event_record(
                actor=None,
                action=events.LOCKED,
                obj=user,
                outcome=Outcome.DENIED,
                after={"locked_until": user.locked_until},
            )


def _locked_message(user: User) -> str:
    remaining = (user.locked_until or timezone.now()) - timezone.now()
    minutes = max(1, int(remaining.total_seconds() // 60) + 1)
    return ngettext(
        "This account is locked after repeated failed logins. Try again in %(minutes)d minute "
        "or ask a system administrator to unlock it.",
        "This account is locked after repeated failed logins. Try again in %(minutes)d minutes "
        "or ask a system administrator to unlock it.",
        minutes,
    ) % {"minutes": minutes}


def login_check_password(*, request: HttpRequest | None, username: str, password: str) -> User:
    """First factor. Counts failures and locks after the configured number (default 5 for 15 minutes)."""
    user = User.objects.filter(username=username).first()
    if user is not None and user.is_locked():
        event_record(
            actor=None,
            action=events.LOGIN_FAILED,
            obj=user,
            outcome=Outcome.DENIED,
            after={"reason": "locked"},
        )
        raise LoginRefused(_locked_message(user), code="locked")
    authenticated = authenticate(request, username=username, password=password)
    if authenticated is None:
        _fail(user, username)
        user = User.objects.filter(username=username).first()
        if user is not None and user.is_locked():
            raise LoginRefused(_locked_message(user), code="locked")
        raise LoginRefused(_("Wrong user name or password."), code="invalid_login")
    assert isinstance(authenticated, User)
    return authenticated


def totp_verify(*, user: User, code: str) -> None:
    """Second factor: a 6-digit code from the user's authenticator, each code usable once."""
    if not user.has_totp:
        raise LoginRefused(_("No second factor is set up for this account."), field="code")
    totp = pyotp.TOTP(localkey.unseal(user.totp_secret_sealed))
    code = code.strip().replace(" ", "")
    now = timezone.now()
    step = int(now.timestamp()) // totp.interval
    for candidate in (step - 1, step, step + 1):
        if candidate > user.last_totp_step and secrets.compare_digest(totp.generate_otp(candidate), code):
            # Compare-and-set in the database: two requests racing with one code both passed the test above
            # on their own copy of the user; only the first to write may succeed.
            if User.objects.filter(pk=user.pk, last_totp_step__lt=candidate).update(last_totp_step=candidate):
                user.last_totp_step = candidate
                return
            break
    _fail(user, user.username)
    event_record(actor=None, action=events.TOTP_FAILED, obj=user, outcome=Outcome.FAILURE)
    raise LoginRefused(_("The code is wrong or already used. Enter the current 6-digit code."), field="code")


def login_succeeded(*, user: User) -> None:
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None, last_login=timezone.now())
        event_record(actor=user, action=events.LOGIN, obj=user)


def logout_record(*, user: Any, expired: bool = False) -> None:
    event_record(actor=user, action=events.SESSION_EXPIRED if expired else events.LOGOUT, obj=user)


def totp_new_secret() -> str:
    return pyotp.random_base32()


def totp_uri(*, user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def totp_enroll(*, user: User, secret: str, code: str) -> None:
    """Confirm a new seed with a code made from it, then store it sealed (a login bootstrapped at the console).

    A new or reset login enrols through its one-time code instead (accounts.enrolment)."""
    if not user.is_enrolled:
        raise DomainError(
            _("This login waits for its holder's enrolment: use the one-time enrolment code you were given."),
            field="code",
        )
    if not pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), valid_window=1):
        raise LoginRefused(
            _("The code does not match. Scan the QR code again and enter the current code."), field="code"
        )
    with transaction.atomic():
        user.totp_secret_sealed = localkey.seal(secret)
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_secret_sealed", "totp_confirmed_at"])
        event_record(actor=user, action=events.TOTP_ENROLLED, obj=user)


def password_generate(length: int = 16) -> str:
    """A random password for a demo login bootstrapped at the console (accounts.enrolment)."""
    alphabet = string.ascii_letters + string.digits
    alphabet = "".join(c for c in alphabet if c not in "Il1O0o")
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if any(c.isdigit() for c in candidate) and any(c.isupper() for c in candidate):
            return candidate


def password_set(*, actor: Any, user: User, password: str) -> None:
    """The holder changes their own password after the validators (at least 12 characters, not common, not all
    digits). Nobody sets another login's password: a reset issues an enrolment code (accounts.enrolment)."""
    if actor is None or (not isinstance(actor, SystemActor) and getattr(actor, "pk", None) != user.pk):
        raise PermissionDenied(
            _("Nobody sets another person's password: reset the login, and its holder sets a new one.")
        )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password") from exc
    with transaction.atomic():
        user.set_password(password)
        user.failed_logins, user.locked_until = 0, None
        user.save(update_fields=["password", "failed_logins", "locked_until"])
        event_record(actor=actor, action=events.PASSWORD_SET, obj=user)


_username_validator = UnicodeUsernameValidator()


def user_create(*, actor: Any, username: str, display_name: str) -> tuple[User, Issued]:
    """Create a login with no usable password; returns it with its one-time enrolment code for the holder."""
    enrolment.require_account_admin(actor=actor)
    username = username.strip()
    if not username:
        raise DomainError(_("A user name is required."), field="username")
    try:
        # Review M5: a login named =HYPERLINK(...) became a live formula in the auditor's export.
        _username_validator(username)
    except ValidationError as exc:
        raise DomainError(
            _("The user name %(name)s is not allowed: use letters, digits and @ . + - _ only.")
            % {"name": username[:40]},
            field="username",
        ) from exc
    if User.objects.filter(username=username).exists():
        raise DomainError(_("The user name %(name)s is taken.") % {"name": username}, field="username")
    with transaction.atomic():
        user = User(username=username, display_name=display_name)
        user.set_unusable_password()
        user.save()
        event_record(
            actor=actor,
            action=events.USER_CREATE,
            obj=user,
            after={"username": username, "display_name": display_name},
        )
        issued = enrolment.enrolment_issue_new(actor=actor, user=user)
    return user, issued


def user_unlock(*, actor: Any, user: User) -> None:
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
        event_record(actor=actor, action=events.USER_UNLOCK, obj=user)


def user_set_active(*, actor: Any, user: User, active: bool) -> None:
    with transaction.atomic():
        before = user.is_active
        User.objects.filter(pk=user.pk).update(is_active=active)
        event_record(
            actor=actor,
            action=events.USER_DEACTIVATE if not active else events.USER_UPDATE,
            obj=user,
            before={"is_active": before},
            after={"is_active": active},
        )
        if not active:
            from rest_framework.authtoken.models import Token

            Token.objects.filter(user=user).delete()
