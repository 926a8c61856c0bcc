"""Login, lockout, second factor and account administration; each change writes its audit event."""

from __future__ import annotations

import hashlib
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
from django.db.models import F, Max, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from handover.accounts import enrolment, events
from handover.accounts.enrolment import Issued
from handover.accounts.models import ApiToken, LoginThrottle, User
from handover.audit.models import Outcome
from handover.audit.services import event_record
from handover.core import http, localkey
from handover.core.actors import Actor, SystemActor, actor_user
from handover.core.errors import DomainError, PermissionDenied

TOTP_ISSUER = "Handover"


class LoginRefused(DomainError):
    """Wrong credentials, a locked account or a wrong code; the message never says which user exists."""


_DAY = 86400


def client_address(request: HttpRequest | None) -> str:
    """The caller's address (behind a trusted proxy, the one its configured header names: core.http); empty
    when there is no request (CLI). The per-address back-off would otherwise count every client as the proxy."""
    if request is None:
        return ""
    return http.client_address(request)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _throttle_keys(username: str, address: str) -> list[tuple[str, str, int, bool]]:
    """(scope, key, failures before a back-off, whether back-offs double) for one password attempt.

    One address guessing one name is backed off after the lockout count, doubling each time; one address
    guessing many names after four times that; one name guessed from many addresses is slowed by a short
    back-off that never grows, so that strangers can delay a login but never lock it (review M6)."""
    name = username.strip().casefold()
    attempts = settings.HANDOVER_LOCKOUT_ATTEMPTS
    return [
        ("pair", _digest(f"{name}\0{address}"), attempts, True),
        ("address", _digest(address), attempts * 4, True),
        ("name", _digest(name), attempts * 4, False),
    ]


def _backoff_seconds(failures: int, threshold: int, doubles: bool) -> int:
    if not doubles:
        return max(1, settings.HANDOVER_LOCKOUT_SECONDS // 15)
    return int(min(settings.HANDOVER_LOCKOUT_SECONDS * 2 ** (failures // threshold - 1), _DAY))


def _throttled_until(username: str, address: str) -> Any:
    """When the longest back-off running for this name or address ends, or None."""
    scopes = Q()
    for scope, key, _threshold, _doubles in _throttle_keys(username, address):
        scopes |= Q(scope=scope, key=key)
    running = LoginThrottle.objects.filter(scopes, blocked_until__gt=timezone.now())
    return running.aggregate(until=Max("blocked_until"))["until"]


def _throttle_failure(username: str, address: str) -> Any:
    """Count a failed password in every scope; returns the longest back-off now running, if any."""
    now = timezone.now()
    longest = None
    with transaction.atomic():
        for scope, key, threshold, doubles in _throttle_keys(username, address):
            row, _created = LoginThrottle.objects.select_for_update().get_or_create(scope=scope, key=key)
            running = row.blocked_until is not None and row.blocked_until > now
            if (now - row.updated_at).total_seconds() > _DAY and not running:
                row.failures = 0  # a day without attempts starts the count again
            row.failures += 1
            row.updated_at = now
            if row.failures % threshold == 0:
                row.blocked_until = now + timedelta(
                    seconds=_backoff_seconds(row.failures, threshold, doubles)
                )
            row.save()
            if row.blocked_until and row.blocked_until > now:
                longest = max(longest or row.blocked_until, row.blocked_until)
    return longest


def _minutes_until(moment: Any) -> int:
    return max(1, int((moment - timezone.now()).total_seconds() // 60) + 1)


def _throttled_message(until: Any) -> str:
    minutes = _minutes_until(until)
    return ngettext(
        "Too many failed logins. Try again in %(minutes)d minute.",
        "Too many failed logins. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def _locked_message(user: User) -> str:
    minutes = _minutes_until(user.locked_until or timezone.now())
    return ngettext(
        "This account is locked after repeated wrong second-factor codes. Try again in %(minutes)d minute "
        "or ask a system administrator to unlock it.",
        "This account is locked after repeated wrong second-factor codes. Try again in %(minutes)d minutes "
        "or ask a system administrator to unlock it.",
        minutes,
    ) % {"minutes": minutes}


def _login_failed(user: User | None, username: str, reason: str) -> None:
    event_record(
        actor=None,
        action=events.LOGIN_THROTTLED if reason == "throttled" else events.LOGIN_FAILED,
        obj=user,
        object_type="accounts.user",
        object_id="" if user else username[:64],
        outcome=Outcome.DENIED if reason in ("throttled", "locked") else Outcome.FAILURE,
        after={"reason": reason},
    )


def login_check_password(*, request: HttpRequest | None, username: str, password: str) -> User:
    """First factor. Known and unknown names get the same answers and the same work (a password hash either
    way). Failures back off the caller's address for that name; they never lock the account (review M6)."""
    address = client_address(request)
    user = User.objects.filter(username=username).first()
    until = _throttled_until(username, address)
    if until is not None:
        _login_failed(user, username, "throttled")
        raise LoginRefused(_throttled_message(until), code="throttled")
    # For an unknown name Django's ModelBackend hashes the password anyway: the answer takes as long.
    authenticated = authenticate(request, username=username, password=password)
    if authenticated is None:
        until = _throttle_failure(username, address)
        _login_failed(user, username, "password")
        if until is not None:
            raise LoginRefused(_throttled_message(until), code="throttled")
        raise LoginRefused(_("Wrong user name or password."), code="invalid_login")
    assert isinstance(authenticated, User)
    if authenticated.is_locked():
        # Only someone who knows the password learns that the account is locked.
        _login_failed(authenticated, username, "locked")
        raise LoginRefused(_locked_message(authenticated), code="locked")
    return authenticated


def _totp_fail(user: User, *, approving: bool) -> User:
    """Count a wrong code; at the lockout count the account locks, each further wrong code doubles the lock,
    and every session, pending login and token of the account ends. Only a right code resets the count.

    A wrong code typed while approving (a reveal, a package) is recorded as that, by the logged-in person, not
    as a failed login (UX review M7); it still counts, since a stolen session could otherwise try every code
    at the approval page (security review H2, tests/vault/test_approve_lockout.py)."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.totp_failures += 1
        attempts = settings.HANDOVER_LOCKOUT_ATTEMPTS
        locked = user.totp_failures >= attempts
        if locked:
            seconds = min(settings.HANDOVER_LOCKOUT_SECONDS * 2 ** (user.totp_failures - attempts), _DAY)
            user.locked_until = timezone.now() + timedelta(seconds=seconds)
        user.save(update_fields=["totp_failures", "locked_until"])
        event_record(
            actor=user if approving else None,
            action=events.TOTP_FAILED_APPROVAL if approving else events.TOTP_FAILED,
            obj=user,
            outcome=Outcome.FAILURE,
        )
        if locked:
            event_record(
                actor=None,
                action=events.LOCKED,
                obj=user,
                outcome=Outcome.DENIED,
                after={"locked_until": user.locked_until},
            )
            credentials_revoke(user=user, reason="locked")
    return user


def totp_verify(*, user: User, code: str, approving: bool = False) -> None:
    """Second factor: a 6-digit code from the user's authenticator, each code usable once. Used by the login,
    the token endpoint and the vault's approval page alike, so one lock and one counter cover them all;
    ``approving`` says a logged-in person confirms an approval with it (the audit event says so)."""
    current = User.objects.get(pk=user.pk)
    if current.is_locked() or not current.is_active:
        event_record(
            actor=None,
            action=events.TOTP_FAILED_APPROVAL if approving else events.TOTP_FAILED,
            obj=current,
            outcome=Outcome.DENIED,
            after={"reason": "locked"},
        )
        raise LoginRefused(_locked_message(current), field="code", code="locked")
    if not current.has_totp:
        raise LoginRefused(_("No second factor is set up for this account."), field="code")
    totp = pyotp.TOTP(localkey.unseal(current.totp_secret_sealed))
    code = code.strip().replace(" ", "")
    step = int(timezone.now().timestamp()) // totp.interval
    for candidate in (step - 1, step, step + 1):
        if candidate > current.last_totp_step and secrets.compare_digest(totp.generate_otp(candidate), code):
            # Compare-and-set in the database: two requests racing with one code both passed the test above
            # on their own copy of the user; only the first to write may succeed, and not once locked.
            fresh = User.objects.filter(pk=user.pk, last_totp_step__lt=candidate).exclude(
                locked_until__gt=timezone.now()
            )
            if fresh.update(last_totp_step=candidate, totp_failures=0):
                user.last_totp_step, user.totp_failures = candidate, 0
                return
            break
    current = _totp_fail(current, approving=approving)
    if current.is_locked():
        raise LoginRefused(_locked_message(current), field="code", code="locked")
    raise LoginRefused(_("The code is wrong or already used. Enter the current 6-digit code."), field="code")


def login_succeeded(*, user: User, request: HttpRequest | None = None) -> None:
    """Record a completed login. It unlocks nothing: a lock ends by time or by a system administrator."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(last_login=timezone.now())
        LoginThrottle.objects.filter(
            scope="pair", key=_digest(f"{user.username.strip().casefold()}\0{client_address(request)}")
        ).delete()
        event_record(actor=user, action=events.LOGIN, obj=user)


def logout_record(*, user: Actor, expired: bool = False) -> None:
    """Record the end of a session; a logout also ends the login's API tokens."""
    with transaction.atomic():
        login = actor_user(user)
        event_record(actor=user, action=events.SESSION_EXPIRED if expired else events.LOGOUT, obj=login)
        if not expired:
            credentials_revoke(user=login, reason="logout", sessions=False)


def credentials_revoke(*, user: User, reason: str, actor: Actor | None = None, sessions: bool = True) -> None:
    """End every API token of a login and (unless ``sessions`` is false) every web session and pending login
    of it, in every worker: sessions carry a hash of credentials_epoch, which this raises."""
    with transaction.atomic():
        tokens, _by_type = ApiToken.objects.filter(user=user).delete()
        if sessions:
            User.objects.filter(pk=user.pk).update(credentials_epoch=F("credentials_epoch") + 1)
            user.credentials_epoch = User.objects.values_list("credentials_epoch", flat=True).get(pk=user.pk)
        event_record(
            actor=actor,
            action=events.CREDENTIALS_REVOKED,
            obj=user,
            after={"reason": reason, "api_ended": tokens, "sessions_ended": sessions},
        )


def api_token_issue(*, user: User) -> str:
    """A new API token for the login (its earlier ones end). Only its digest is stored; the token itself is
    returned once, to the caller."""
    raw = "hot_" + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        ApiToken.objects.filter(user=user).delete()
        ApiToken.objects.create(
            user=user,
            digest=_digest(raw),
            prefix=raw[:10],
            created=now,
            last_used=now,
            expires_at=now + timedelta(seconds=settings.HANDOVER_API_TOKEN_MAX_SECONDS),
        )
        event_record(actor=user, action=events.TOKEN_CREATE, obj=user, after={"prefix": raw[:10]})
    return raw


def api_token_authenticate(*, raw: str) -> tuple[User, ApiToken]:
    """The login of a presented API token, refused when unknown, idle too long, past its expiry, or its login
    is locked or inactive. Marks it used (at most one write a minute)."""
    token = ApiToken.objects.select_related("user").filter(digest=_digest(raw.strip())).first()
    now = timezone.now()
    if token is None:
        raise LoginRefused(_("Invalid token."), code="invalid_token")
    idle = timedelta(seconds=settings.HANDOVER_API_TOKEN_IDLE_SECONDS)
    if token.expires_at <= now or token.last_used + idle <= now:
        token.delete()
        raise LoginRefused(_("This token has expired; obtain a new one."), code="expired_token")
    if not token.user.is_active or token.user.is_locked():
        raise LoginRefused(_("This account is locked or deactivated."), code="locked")
    if now - token.last_used >= timedelta(seconds=60):
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
    return token.user, token


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
        credentials_revoke(user=user, reason="second_factor")


def password_generate(length: int = 16) -> str:
    """A random password for a demo login bootstrapped at the console (accounts.enrolment)."""
    alphabet = string.ascii_letters + string.digits
    alphabet = "".join(c for c in alphabet if c not in "Il1O0o")
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if any(c.isdigit() for c in candidate) and any(c.isupper() for c in candidate):
            return candidate


def password_set(*, actor: Actor, user: User, password: str) -> None:
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
        credentials_revoke(user=user, reason="password", actor=actor)


_username_validator = UnicodeUsernameValidator()


def user_create(*, actor: Actor, username: str, display_name: str) -> tuple[User, Issued]:
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


def user_unlock(*, actor: Actor, user: User) -> None:
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(failed_logins=0, totp_failures=0, locked_until=None)
        # The name's back-off ends too; back-offs of single addresses run out by themselves.
        LoginThrottle.objects.filter(scope="name", key=_digest(user.username.strip().casefold())).delete()
        event_record(actor=actor, action=events.USER_UNLOCK, obj=user)


def user_set_active(*, actor: Actor, user: User, active: bool) -> None:
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
            credentials_revoke(user=user, reason="deactivated", actor=actor)
