"""Evidence attached to a register form or row: scans of signed paper, screenshots, configuration files,
and the files an attachment column (``att``: 过程记录, 方案, 网络拓扑图 …) holds.

The bytes live under the data folder (``HANDOVER_DATA_DIR/attachments``), named by their SHA-256, so a file
cannot be swapped without the hash in the row and in its audit event disagreeing with it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from handover.registers.models.forms import Form, Row


class Attachment(models.Model):
    """One file attached to a form (its header, or the signed paper) or to one version of a row.

    ``column`` names the ``att`` column whose value is this file's SHA-256, if any. Attached files are
    never replaced or deleted.
    """

    form = models.ForeignKey(Form, on_delete=models.PROTECT, related_name="attachments")
    row = models.ForeignKey(Row, on_delete=models.PROTECT, null=True, blank=True, related_name="attachments")
    column = models.CharField(max_length=60, blank=True)
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    description = models.CharField(_("description"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["form_id", "row_id", "pk"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name
