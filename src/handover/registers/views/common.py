"""What the register pages share: the register lookup, the page context, running a service with its
refusal on the field or in a message, and rows laid out for a template."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from handover.core.actors import Actor
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
    column: Column,
    value: Any,
    labels: dict[str, dict],
    files: dict[str, Attachment],
    *,
    row_link: str | None = None,
) -> tuple[Any, Attachment | None]:
    """A value as a person reads it (names for references, 是/否), and the file of an attachment column.
    With ``row_link`` (the row page's URL without its id), a reference to another register's row (表39
    BR-HZ-T39-…#1) links to that row (issue 17, UX review L2)."""
    if value is None or value == "" or value == []:
        return "", None
    if column.type == "bool":
        return ("是" if value else "否"), None
    if column.type in ("ref", "refs"):
        names = labels.get(column.ref, {})
        ids = value if isinstance(value, list) else [value]
        if row_link and _names_rows(column):
            pairs = ((row_link, i, names.get(i, f"#{i}")) for i in ids)
            return format_html_join("、", '<a href="{}{}/" data-testid="row-ref">{}</a>', pairs), None
        return "、".join(str(names.get(i, f"#{i}")) for i in ids), None
    if column.type == "att":
        found = files.get(value)
        return (found.name if found else str(value)[:12]), found
    if column.type in ("dt", "date"):
        return moment_text(value), None  # review M2: 2026-12-04 15:31, not the stored ISO text
    return value, None


def _names_rows(column: Column) -> bool:
    """A reference whose target is rows of registers (``T39``, ``T8|T10``), not a site, person or system."""
    return all(part.removeprefix("T").isdigit() for part in column.ref.split("|"))


def row_link_of(engagement: Engagement) -> str:
    """The URL of a row's page without the row's id, reversed once per page."""
    return reverse("registers:row_detail", kwargs={"code": engagement.code, "row_id": 0})[:-2]


def table(
    engagement: Engagement,
    spec: catalogue.RegisterSpec,
    columns: tuple[Column, ...],
    rows: Sequence[selectors.RowLine],
    *,
    user: Actor,
    show_form: bool = False,
) -> list[SafeString]:
    """The rows of a page as ``<tr>`` lines (registers/_rows.html gives the head), with the lookups they need
    done once for the whole page and each link reversed once, not once per row. The lines are written here,
    every value escaped, because the template's loop over 50 rows × 15 cells with their links and signers was
    most of the list page's time (issue 18)."""
    labels = selectors.ref_labels(engagement=engagement, columns=columns, rows=rows, user=user)
    files = selectors.column_files(engagement=engagement, columns=columns, rows=rows)
    signatures = selectors.row_signers(row_ids=[r.pk for r in rows]) if spec.dual_signature else None
    row_link = row_link_of(engagement)
    links = {  # escaped once here, written as they are in each row
        name: _esc(reverse(f"registers:{name}", kwargs={"code": engagement.code, key: 0})[:-2])
        for name, key in (
            ("row_detail", "row_id"),
            ("form_detail", "form_id"),
            ("attachment_download", "attachment_id"),
        )
    }
    return [
        _row_html(
            row,
            [display(c, row.data.get(c.key), labels, files, row_link=row_link) for c in columns],
            links,
            show_form=show_form,
            signatures=signatures,
        )
        for row in rows
    ]


def _row_html(
    row: selectors.RowLine,
    cells: list[tuple[Any, Attachment | None]],
    links: dict[str, str],
    *,
    show_form: bool,
    signatures: dict[int, dict[str, str]] | None,
) -> SafeString:
    """One row: 序号 (a link, with its version past the first), the form, the cells, 备注, the signers.

    Every value goes through ``_esc`` (Django's ``conditional_escape``, without its lazy-string checks:
    ``format_html`` for each of 50 rows × 17 cells was a sixth of the list page's time, issue 18)."""
    badge = f' <span class="badge warn">v{row.version}</span>' if row.version > 1 else ""
    parts = [
        f'<tr data-seq="{row.seq}"><td><a href="{links["row_detail"]}{row.pk}/">{row.seq}</a>{badge}</td>'
    ]
    if show_form:
        form = row.form
        parts.append(
            f'<td><a href="{links["form_detail"]}{form.pk}/">{_esc(form.form_no)}</a><br>'
            f'<span class="muted">{_esc(form.site_name)} · {_esc(form.get_state_display())}</span></td>'
        )
    download = links["attachment_download"]
    for text, file in cells:
        parts.append(
            f'<td><a href="{download}{file.pk}/">{_esc(text)}</a></td>' if file else f"<td>{_esc(text)}</td>"
        )
    parts.append(f"<td>{_esc(row.remarks)}</td>")
    if signatures is not None:
        executor = _esc(_signer_name(signatures, row, SignatureKind.EXECUTOR))
        supervisor = _esc(_signer_name(signatures, row, SignatureKind.SUPERVISOR))
        parts.append(
            f'<td data-testid="executor">{executor}</td><td data-testid="supervisor">{supervisor}</td>'
        )
    parts.append("</tr>")
    # Every value above is escaped by _esc, the links in ``table``; the numbers are integers.
    return mark_safe("".join(parts))  # noqa: S308


def _esc(value: Any) -> str:
    """A value escaped for HTML unless already safe, as ``conditional_escape`` does."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


def _signer_name(signatures: dict[int, dict[str, str]], row: selectors.RowLine, kind: str) -> str:
    return signatures.get(row.pk, {}).get(kind, "—")


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
