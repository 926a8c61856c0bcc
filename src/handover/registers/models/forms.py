"""Register forms, rows and signatures: one generic store for all 41 registers (DESIGN.md decision 1).

A form is one register filled for one site, with the official header (编号, 日期, 填报单位/站点) and the
lifecycle 草稿 → 已提交 → 已签字 → 已归档. Row values live in ``data`` under the keys of the register's
column declarations. Signed means frozen (decision 2): a correction is a new version pointing at the one it
replaces, and both stay readable. Who may not sign twice is enforced by the database, not only the page.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Person, Site


class FormState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    SIGNED = "signed", _("Signed")
    ARCHIVED = "archived", _("Archived")


# DESIGN decision 2, "signed means frozen": a signed or archived form never changes; a correction is a new
# version. The one notion of "frozen" for every app (review §5 counted eight copies of this pair).
FROZEN_STATES: tuple[str, ...] = (FormState.SIGNED, FormState.ARCHIVED)


class Form(models.Model):
    """One register (表N) filled for one site: the official header and the lifecycle."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="register_forms")
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="register_forms", verbose_name=_("reporting site")
    )
    register_no = models.PositiveSmallIntegerField(_("register"), db_index=True)
    form_no = models.CharField(_("form number"), max_length=60)
    form_date = models.DateField(_("date"))
    header = models.JSONField(default=dict, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=FormState.choices, default=FormState.DRAFT)
    version = models.PositiveIntegerField(default=1)
    previous = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="next_version"
    )
    correction_reason = models.TextField(_("reason for the correction"), blank=True)
    is_current = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["register_no", "site_id", "form_no", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "form_no", "version"], name="registers_form_no_version"
            ),
            models.UniqueConstraint(
                fields=["engagement", "form_no"],
                condition=Q(is_current=True),
                name="registers_form_one_current",
            ),
            models.CheckConstraint(
                condition=Q(register_no__gte=1, register_no__lte=41), name="registers_form_register_1_41"
            ),
            models.CheckConstraint(
                condition=Q(version=1) | ~Q(correction_reason=""), name="registers_form_correction_has_reason"
            ),
        ]
        indexes = [models.Index(fields=["engagement", "register_no", "site", "is_current"])]
        verbose_name = _("register form")
        verbose_name_plural = _("register forms")

    def __str__(self) -> str:
        return f"表{self.register_no} {self.form_no} v{self.version}"

    @property
    def is_frozen(self) -> bool:
        """Signed or archived: its header, rows and signatures no longer change (DESIGN decision 2)."""
        return self.state in FROZEN_STATES


class Row(models.Model):
    """One row of a form. ``seq`` is the 序号; versions of a row share it."""

    form = models.ForeignKey(Form, on_delete=models.PROTECT, related_name="rows")
    seq = models.PositiveIntegerField(_("No."))
    data = models.JSONField(default=dict)
    # The values as text, kept by the database for the list's full-text search (selectors._search): reading
    # it costs nothing per row, where printing every row's JSON for each search did (docs/benchmarks.md).
    search_text = models.GeneratedField(
        expression=Cast("data", models.TextField()), output_field=models.TextField(), db_persist=True
    )
    remarks = models.TextField(_("remarks"), blank=True)
    version = models.PositiveIntegerField(default=1)
    previous = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="next_version"
    )
    correction_reason = models.TextField(_("reason for the correction"), blank=True)
    is_current = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["form_id", "seq", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["form", "seq", "version"], name="registers_row_seq_version"),
            models.UniqueConstraint(
                fields=["form", "seq"], condition=Q(is_current=True), name="registers_row_one_current"
            ),
            models.CheckConstraint(
                condition=Q(version=1) | ~Q(correction_reason=""), name="registers_row_correction_has_reason"
            ),
        ]
        verbose_name = _("register row")
        verbose_name_plural = _("register rows")

    def __str__(self) -> str:
        return f"{self.form} #{self.seq} v{self.version}"


class SignatureKind(models.TextChoices):
    """Form footer signatures by role, and the 第八条 row pair: executor (被) and supervisor (现 or 技)."""

    FOOTER = "footer", _("Footer signature")
    EXECUTOR = "executor", _("Executed by")
    SUPERVISOR = "supervisor", _("Supervised by")


class SignatureMethod(models.TextChoices):
    SCAN = "scan", _("Hand-signed, scanned")
    ELECTRONIC = "electronic", _("Electronic signature")


class Signature(models.Model):
    """A signature on a form (footer, one per role) or on a row (executor and supervisor).

    The database refuses a second signature by the same person on the same form or row, and a second
    signature of the same kind and role, so 第八条's "two different people" cannot be bypassed.
    """

    form = models.ForeignKey(Form, on_delete=models.PROTECT, null=True, blank=True, related_name="signatures")
    row = models.ForeignKey(Row, on_delete=models.PROTECT, null=True, blank=True, related_name="signatures")
    kind = models.CharField(max_length=12, choices=SignatureKind.choices)
    role = models.CharField(max_length=16)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="register_signatures")
    method = models.CharField(
        max_length=12, choices=SignatureMethod.choices, default=SignatureMethod.ELECTRONIC
    )
    opinion = models.TextField(blank=True)
    signed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(form__isnull=True) ^ Q(row__isnull=True), name="registers_signature_form_xor_row"
            ),
            models.UniqueConstraint(
                fields=["form", "person"],
                condition=Q(form__isnull=False),
                name="registers_signature_once_per_form",
            ),
            models.UniqueConstraint(
                fields=["row", "person"],
                condition=Q(row__isnull=False),
                name="registers_signature_once_per_row",
            ),
            models.UniqueConstraint(
                fields=["form", "role"],
                condition=Q(form__isnull=False),
                name="registers_signature_one_per_role",
            ),
            models.UniqueConstraint(
                fields=["row", "kind"],
                condition=Q(row__isnull=False),
                name="registers_signature_one_per_kind",
            ),
        ]
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")

    def __str__(self) -> str:
        return f"{self.kind} {self.role} {self.person_id}"
