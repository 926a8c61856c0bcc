"""Site keys of the field agents and the bundles imported from them (DESIGN.md decision 6).

A bundle is imported exactly once: its digest (the SHA-256 of its signed index, which covers every member)
is unique, so a second import of the same bundle, by network or by courier, finds it and writes nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Site


class KeySource(models.TextChoices):
    AGENT = "agent", _("Registered by the agent over the network")
    FILE = "file", _("Public key file registered by 技术组")
    ISSUED = "issued", _("Made on the server and handed to the site")


class SiteKey(models.Model):
    """An agent's Ed25519 public key, enrolled for one site: bundles signed with it are that site's."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="fixity_keys")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="fixity_keys")
    key_id = models.CharField(_("key id"), max_length=16, unique=True)
    public_key = models.CharField(_("public key (base64)"), max_length=64)
    label = models.CharField(_("label"), max_length=100, blank=True)
    source = models.CharField(_("enrolled by way of"), max_length=10, choices=KeySource.choices)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    enrolled_by_name = models.CharField(max_length=150)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["site_id", "-enrolled_at"]
        verbose_name = _("site key")
        verbose_name_plural = _("site keys")

    def __str__(self) -> str:
        return f"{self.key_id} ({self.site.code})"


class ImportVia(models.TextChoices):
    UPLOAD = "upload", _("Uploaded on the page")
    API = "api", _("Sent by the API")
    COURIER = "courier", _("Came by courier (第二十八条第8项)")


class ImportedBundle(models.Model):
    """A bundle accepted from a site, with who imported it and what it wrote into the registers."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="fixity_bundles")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="fixity_bundles")
    site_key = models.ForeignKey(SiteKey, on_delete=models.PROTECT, related_name="bundles")
    digest = models.CharField(_("digest"), max_length=64, unique=True)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.BigIntegerField()
    stored_as = models.CharField(max_length=200, blank=True)
    created_at_site = models.CharField(_("made at the site"), max_length=40)
    tool = models.CharField(max_length=100)
    host = models.CharField(max_length=255, blank=True)
    reports = models.PositiveIntegerField(default=0)
    problems = models.PositiveIntegerField(default=0)
    tamper = models.BooleanField(_("signs of tampering"), default=False)
    via = models.CharField(_("came by"), max_length=10, choices=ImportVia.choices)
    courier_no = models.CharField(_("courier no."), max_length=100, blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    imported_by_name = models.CharField(_("imported by"), max_length=150)
    imported_at = models.DateTimeField(auto_now_add=True)
    summary = models.JSONField(default=dict)

    class Meta:
        ordering = ["-imported_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(via="courier") | ~Q(courier_no=""), name="backups_courier_has_number"
            )
        ]
        verbose_name = _("imported bundle")
        verbose_name_plural = _("imported bundles")

    def __str__(self) -> str:
        return f"{self.site.code} {self.digest[:12]}"
