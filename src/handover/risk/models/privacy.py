"""Investors' personal information (三(三) 投资者个人信息保护): the inventory of processing activities — purpose,
basis, categories (sensitive ones marked), systems, recipients, processing outside the network's protection
boundary (三(三)三) with its measures, retention — and the necessity and security assessment that must come
before collecting biometrics (三(三)四)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement
from handover.registers.models import Row


class Category(models.TextChoices):
    IDENTITY = "identity", _("Identity (name, ID number)")
    CONTACT = "contact", _("Contact details")
    ACCOUNT = "account", _("Securities and fund accounts")
    TRADING = "trading", _("Orders and trades")
    FUNDS = "funds", _("Funds and bank accounts (sensitive)")
    BIOMETRIC = "biometric", _("Biometrics: face, fingerprint, voice (sensitive)")
    OTHER_SENSITIVE = "other_sensitive", _("Other sensitive information")


SENSITIVE = (Category.FUNDS, Category.BIOMETRIC, Category.OTHER_SENSITIVE)


class ProcessingActivity(models.Model):
    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("processing activity"), max_length=200)
    purpose = models.TextField(_("purpose"))
    basis = models.CharField(_("legal basis"), max_length=200)
    categories = models.JSONField(_("categories"), default=list)
    systems = models.JSONField(_("systems"), default=list)  # the registers' system names
    recipients = models.TextField(_("recipients and sharing"), blank=True)
    outside_boundary = models.BooleanField(_("processed outside the protection boundary"), default=False)
    outside_measures = models.TextField(_("measures outside the boundary"), blank=True)
    retention = models.CharField(_("retention"), max_length=200)
    biometric_assessment = models.TextField(_("necessity and security assessment"), blank=True)
    assessed_on = models.DateField(_("assessed on"), null=True, blank=True)
    updated_by_name = models.CharField(max_length=150)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "name"], name="risk_activity_name_once"),
            models.CheckConstraint(
                condition=~Q(outside_boundary=True, outside_measures=""),
                name="risk_activity_outside_has_measures",
            ),
        ]
        verbose_name = _("processing activity")
        verbose_name_plural = _("processing activities")

    def __str__(self) -> str:
        return self.name


class MediaEncryption(models.Model):
    """第二十八条第8项 and 三(三): a 表14 backup sent to head office by courier holds clients' data, so its media are
    encrypted; the mark names how, and who checked it."""

    row = models.OneToOneField(Row, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(_("encryption"), max_length=200)
    checked_by_name = models.CharField(max_length=150)
    checked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(method=""), name="risk_media_encryption_method")]
        verbose_name = _("media encryption")

    def __str__(self) -> str:
        return f"{self.row_id}: {self.method}"
