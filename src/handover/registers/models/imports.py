"""An import of a register file that runs in the background, with the progress a page shows as a bar."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from handover.org.models import Engagement, Site


class ImportState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    VALIDATING = "validating", _("Checking the rows")
    WRITING = "writing", _("Writing")
    DONE = "done", _("Imported")
    REFUSED = "refused", _("Refused: errors in the file")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """One uploaded file for 表N at a site: kept with its SHA-256 as evidence, with progress and outcome.

    Nothing of the file is written to the register unless every row passes (all-or-nothing); ``errors``
    then lists each problem as ``[row, column label, reason]`` and ``error_file`` holds the failed rows.
    """

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    register_no = models.PositiveSmallIntegerField(_("register"))
    filename = models.CharField(_("file name"), max_length=255)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    state = models.CharField(
        _("state"), max_length=12, choices=ImportState.choices, default=ImportState.QUEUED
    )
    total_rows = models.PositiveIntegerField(default=0)
    done_rows = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    error_file = models.BinaryField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("register import")
        verbose_name_plural = _("register imports")

    def __str__(self) -> str:
        return f"表{self.register_no} {self.filename}"
