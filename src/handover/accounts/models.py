"""Login accounts. A person (org.Person) may have one; roles belong to people, not to accounts."""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _


class EnrolmentVia(models.TextChoices):
    CODE = "code", _("Enrolment code, by the holder")
    CONSOLE = "console", _("Console bootstrap, by the operator")
    MIGRATION = "migration", _("Already enrolled before enrolment codes")


class User(AbstractUser):
    """A login. The TOTP seed is sealed with the data folder's local key, never stored in clear."""

    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    totp_secret_sealed = models.TextField(blank=True, editable=False)
    totp_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_totp_step = models.BigIntegerField(default=0, editable=False)
    failed_logins = models.PositiveIntegerField(default=0, editable=False)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Wrong second-factor codes since the last right one; a right password does not reset it.
    totp_failures = models.PositiveIntegerField(default=0, editable=False)
    # Raised by credentials_revoke: a session remembers the value it was opened with and ends when it differs.
    credentials_epoch = models.PositiveIntegerField(default=0, editable=False)
    # Set when the holder took the login themselves (an enrolment code) or the operator bootstrapped it at
    # the console; empty while a new or reset login waits for its holder, and such a login holds no role.
    enrolled_at = models.DateTimeField(_("enrolled at"), null=True, blank=True, editable=False)
    enrolled_via = models.CharField(
        _("enrolled via"), max_length=16, choices=EnrolmentVia.choices, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("login account")
        verbose_name_plural = _("login accounts")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def has_totp(self) -> bool:
        return self.totp_confirmed_at is not None

    @property
    def is_enrolled(self) -> bool:
        return self.enrolled_at is not None

    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()

    # Django compares this hash, stored in the session at login, with the user's on every request and ends the
    # session when they differ. Mixing in credentials_epoch lets credentials_revoke end every session of a login
    # at once, in every worker process, as a password change already does.
    def get_session_auth_hash(self) -> str:
        return self._epoch_hash(None)

    def get_session_auth_fallback_hash(self) -> Iterator[str]:
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._epoch_hash(secret)

    def _epoch_hash(self, secret: str | bytes | None) -> str:
        key_salt = "handover.accounts.User.get_session_auth_hash"
        value = f"{self.password}:{self.credentials_epoch}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()


class LoginThrottle(models.Model):
    """Failed password attempts counted per client address, per (user name, address) and per user name, in the
    database so that every worker process sees them. A row backs its key off for a while; it never locks the
    account itself, so nobody can lock someone else out from outside (review M6)."""

    scope = models.CharField(max_length=16)
    key = models.CharField(
        max_length=64
    )  # SHA-256 of the address / name: no user name typed by a stranger kept
    failures = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="accounts_throttle_scope_key")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key[:8]}"


class ApiToken(models.Model):
    """An API token. Only a SHA-256 digest of it is stored; whoever reads the database or a backup cannot use
    it (review M7). It ends when idle, at its absolute expiry, and with credentials_revoke."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(_("prefix"), max_length=12)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}…"


class EnrolmentKind(models.TextChoices):
    NEW = "new", _("New login")
    RESET = "reset", _("Password and second-factor reset")
    FACTOR_RESET = "factor_reset", _("Second-factor reset")


class EnrolmentCode(models.Model):
    """A one-time code handed to a login's holder out of band; only its SHA-256 is stored.

    A reset of a login whose person holds vault or signing capabilities waits for a second 技术组 member
    (``approved_by``) before the code exists (``code_hash`` empty until then)."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="enrolment_codes")
    kind = models.CharField(_("kind"), max_length=16, choices=EnrolmentKind.choices)
    code_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    created_by_name = models.CharField(max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    needs_approval = models.BooleanField(default=False, editable=False)
    approved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("enrolment code")
        verbose_name_plural = _("enrolment codes")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(needs_approval=False)
                | models.Q(code_hash="")
                | models.Q(approved_by__isnull=False),
                name="accounts_enrolment_code_after_approval",
            ),
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True) | ~models.Q(approved_by=models.F("created_by")),
                name="accounts_enrolment_not_self_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_kind_display()}"
