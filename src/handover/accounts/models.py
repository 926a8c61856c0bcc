"""Login accounts. A person (org.Person) may have one; roles belong to people, not to accounts."""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _


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

    class Meta:
        verbose_name = _("login account")
        verbose_name_plural = _("login accounts")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def has_totp(self) -> bool:
        return self.totp_confirmed_at is not None

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
