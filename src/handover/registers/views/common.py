"""What the register pages share: the register lookup, the page context, running a service with its
refusal on the field or in a message, and rows laid out for a template."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from handover.core.errors import NotFound
from handover.core.moments import moment_text
from handover.org.models import Engagement
from handover.registers import attachments, catalogue, selectors
from handover.registers.columns import Column
from handover.registers.forms import (
    AttachmentForm,
)
from handover.registers.models import Attachment, Form, Row, SignatureKind
from handover.web import actions
from handover.web.pages import capabilities_in


def register_spec(register_no: int) -> catalogue.RegisterSpec:
    try:
        return catalogue.get(register_no)
    except KeyError:
        raise NotFound(
            _("表%(n)d does not exist: the guideline has 表1 to 表41.") % {"n": register_no}, field="register"
        ) from None


def page_context(request: HttpRequest, engagement: Engagement, **extra: Any) -> dict[str, Any]:
    roles, caps = capabilities_in(user=request.user, engagement=engagement)
    return {"engagement": engagement, "caps": caps, "my_roles": roles, **extra}


def run_service(form: Any, action: Callable[[], Any]) -> Any:
    """Run a service; its refusal goes on the field it names (all fields for an invalid row)."""
    return actions.run(None, form, action)


def post_action(request: HttpRequest, action: Callable[[], Any], done: str) -> None:
    """A button's service call: a success or the refusal's reason as a message."""
    actions.press(request, action, done)


def display(
    column: Column, value: Any, labels: dict[str, dict], files: dict[str, Attachment]
) -> tuple[Any, Attachment | None]:
    """A value as a person reads it (names for references, 是/否), and the file of an attachment column."""
    if value is None or value == "" or value == []:
        return "", None
    if column.type == "bool":
        return ("是" if value else "否"), None
    if column.type in ("ref", "refs"):
        names = labels.get(column.ref, {})
        ids = value if isinstance(value, list) else [value]
        return "、".join(str(names.get(i, f"#{i}")) for i in ids), None
    if column.type == "att":
        found = files.get(value)
        return (found.name if found else str(value)[:12]), found
    if column.type in ("dt", "date"):
        return moment_text(value), None  # review M2: 2026-12-04 15:31, not the stored ISO text
    return value, None


def table(
    engagement: Engagement,
    spec: catalogue.RegisterSpec,
    columns: tuple[Column, ...],
    rows: list[Row],
    *,
    user: Any,
) -> list[dict[str, Any]]:
    """Rows ready for a template, with the lookups they need done once for the whole page, links
    included (a page of 50 rows would otherwise reverse 100 URLs), and each row's cells written out as HTML
    here: looping over 50 × 15 cells in the template was a third of the list page's time (issue 18)."""
    labels = selectors.ref_labels(engagement=engagement, columns=columns, rows=rows, user=user)
    files = selectors.column_files(engagement=engagement, columns=columns, rows=rows)
    signatures = selectors.row_signatures(rows=rows) if spec.dual_signature else {}
    row_link = reverse("registers:row_detail", kwargs={"code": engagement.code, "row_id": 0})[:-2]
    form_link = reverse("registers:form_detail", kwargs={"code": engagement.code, "form_id": 0})[:-2]
    file_link = reverse(
        "registers:attachment_download", kwargs={"code": engagement.code, "attachment_id": 0}
    )[:-2]
    return [
        {
            "row": row,
            "href": f"{row_link}{row.pk}/",
            "form_href": f"{form_link}{row.form_id}/",
            "cells": _cells_html(
                [display(c, row.data.get(c.key), labels, files) for c in columns], file_link
            ),
            "executor": _signer_name(signatures, row, SignatureKind.EXECUTOR),
            "supervisor": _signer_name(signatures, row, SignatureKind.SUPERVISOR),
        }
        for row in rows
    ]


def _cells_html(cells: list[tuple[Any, Attachment | None]], file_link: str) -> str:
    """A row's ``<td>`` cells, every value escaped; an attachment's name links to its download."""
    return format_html_join(
        "",
        "<td>{}</td>",
        (
            (format_html('<a href="{}{}/">{}</a>', file_link, file.pk, text) if file else text,)
            for text, file in cells
        ),
    )


def _signer_name(signatures: dict[int, dict[str, Any]], row: Row, kind: str) -> str:
    found = signatures.get(row.pk, {}).get(kind)
    return found.person.name if found else "—"


def attach(request: HttpRequest, form: Form, row: Row | None) -> None:
    upload = AttachmentForm(request.POST, request.FILES)
    if not upload.is_valid():
        for errors in upload.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return
    file = upload.cleaned_data["file"]
    post_action(
        request,
        lambda: attachments.attachment_add(
            actor=request.user,
            form=form,
            row=row,
            name=file.name,
            chunks=file.chunks(),
            description=upload.cleaned_data["description"],
        ),
        _("%(name)s attached.") % {"name": file.name},
    )
