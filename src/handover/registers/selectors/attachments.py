"""Attached files: one file at the user's sites, a row's files by column, the stored file opened."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from django.utils.translation import gettext as _

from handover.core import filestore
from handover.core.actors import Actor
from handover.core.errors import DomainError, NotFound
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers.attachments import attachment_store
from handover.registers.columns import Column
from handover.registers.models import (
    Attachment,
    Form,
    Row,
)
from handover.registers.selectors.common import RowLine, _scoped_sites


def attachment_get(*, user: Actor, engagement: Engagement, attachment_id: int) -> Attachment:
    """One evidence file on a form or a row at the user's sites (a form-level file has no row)."""
    sites = _scoped_sites(user=user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    found = None
    if sites is not None:
        found = (
            Attachment.objects.filter(pk=attachment_id, form__engagement=engagement, form__site__in=sites)
            .select_related("form", "row")
            .first()
        )
    if found is None:
        raise NotFound(_("No attachment %(id)s is open to you here.") % {"id": attachment_id}, field="file")
    return found


def column_files(
    *,
    engagement: Engagement,
    columns: tuple[Column, ...],
    rows: Sequence[Row | RowLine] | None = None,
    forms: list[Form] | None = None,
) -> dict[str, Attachment]:
    """The attachments the ``att`` values (SHA-256) of these rows or form headers stand for, in one query."""
    keys = [c.key for c in columns if c.type == "att"]
    holders = [(r.form.form_no, r.data) for r in rows or []] + [(f.form_no, f.header) for f in forms or []]
    hashes = {values[k] for _no, values in holders for k in keys if isinstance(values.get(k), str)}
    if not hashes:
        return {}
    found = Attachment.objects.filter(
        form__engagement=engagement, form__form_no__in={no for no, _v in holders}, sha256__in=hashes
    )
    return {a.sha256: a for a in found}


def attachment_open(*, attachment: Attachment) -> BinaryIO:
    """The stored file, after checking it still has the SHA-256 recorded when it was attached."""
    try:
        return attachment_store().open(attachment.sha256)
    except filestore.Missing:
        raise DomainError(
            _("The stored file of %(name)s is missing; report this to the technical group.")
            % {"name": attachment.name},
            field="file",
        ) from None
    except filestore.Changed:
        raise DomainError(
            _(
                "The stored file of %(name)s no longer matches the SHA-256 recorded when it was attached; "
                "report this to the technical group."
            )
            % {"name": attachment.name},
            field="file",
        ) from None
