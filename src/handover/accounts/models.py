"""Login accounts. A person (org.Person) may have one; roles belong to people, not to accounts."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
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
