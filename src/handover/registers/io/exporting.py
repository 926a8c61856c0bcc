"""Export of a form, a register (every current form of a site or the engagement) or a filtered set of rows,
in the official frame, as xlsx, PDF or CSV (registers.md §1; DESIGN.md decision 1).

An export is a sensitive read (DESIGN.md decision 3): the event naming who exported what is written before
the file, and an export nobody could record does not happen. The registers hold no secret (§1.3); text
is still written as text, never as a formula.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import IO, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core.actors import Actor
from handover.core.errors import DomainError, PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import site_scope
from handover.registers import catalogue, events
from handover.registers.io.frame import (
    FORM_DATE,
    FORM_NO,
    FORM_SITE,
    ROW_SIGNATURE_LABELS,
    Frame,
    display,
    footer_labels,
    frame,
)
from handover.registers.io.refs import References
from handover.registers.io.writers import CsvFrameWriter, FrameWriter, PdfFrameWriter, XlsxFrameWriter
from handover.registers.models import Form, Row, Signature

FORMATS = ("xlsx", "pdf", "csv")
MAX_PDF_ROWS = 5_000  # a PDF is for printing and signing; larger exports are xlsx or CSV
CHUNK = 500  # rows held at once: the memory of an export, whatever its size


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: the forms (by 编号) and the number of rows."""

    register_no: int
    forms: list[str]
    rows: int


def site_label(site: Site) -> str:
    """填报单位/站点 as printed: the site's name with its code, which an import reads back."""
    return f"{site.name}（{site.code}）"


def _when(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _head(fr: Frame, form: Form | None, refs: References) -> list[list[Any]]:
    common: list[Any] = [FORM_NO, None, FORM_DATE, None, FORM_SITE, None]
    if form is not None:
        common[1], common[3], common[5] = form.form_no, form.form_date.isoformat(), site_label(form.site)
    head = [common]
    if fr.header_fields:
        values = form.header if form is not None else {}
        own: list[Any] = []
        for column in fr.header_fields:
            value = values.get(column.key)
            if column.type in ("ref", "refs"):
                value = refs.label(column, value, site_id=form.site_id if form is not None else None)
            own += [column.zh, display(column, value)]
        head.append(own)
    return head


def _footer(fr: Frame, form: Form | None) -> list[list[Any]]:
    signed = {}
    if form is not None:
        signed = {s.role: s for s in form.signatures.select_related("person")}
    lines: list[list[Any]] = []
    for role, label in footer_labels(fr.number):
        signature = signed.get(role)
        lines.append(
            [label, signature.person.name, _when(signature.signed_at)] if signature else [label, None, None]
        )
    return lines


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _Cells:
    """Stored rows → the cells of the frame: references as names, values as the frame prints them."""

    def __init__(self, fr: Frame, refs: References) -> None:
        self.frame = fr
        self.refs = refs
        self.plain = [(c.key, c, c.type in ("ref", "refs")) for c in fr.columns]
        self.site_id: int | None = None  # the site of the form being written: names are plain from there

    def __call__(self, seq: int, data: dict[str, Any], remarks: str) -> list[Any]:
        cells: list[Any] = [seq]
        for key, column, is_ref in self.plain:
            value = data.get(key)
            if is_ref:
                value = self.refs.label(column, value, site_id=self.site_id)
            cells.append(display(column, value))
        cells.append(remarks or None)
        return cells

    def row_signatures(self, row_ids: list[int]) -> dict[int, dict[str, str]]:
        found: dict[int, dict[str, str]] = {}
        if not self.frame.dual_signature:
            return found
        for sig in Signature.objects.filter(row_id__in=row_ids).select_related("person"):
            assert sig.row_id is not None
            found.setdefault(sig.row_id, {})[sig.kind] = f"{sig.person.name} {_when(sig.signed_at)}"
        return found


def _write_form(writer: FrameWriter, cells: _Cells, form: Form | None, rows: QuerySet[Row] | None) -> int:
    fr = cells.frame
    labels = fr.export_labels
    cells.site_id = form.site_id if form is not None else None
    writer.begin(fr, _head(fr, form, cells.refs), labels, form.form_no if form else fr.title)
    count = 0
    if rows is not None:
        values = rows.order_by("seq").values_list("pk", "seq", "data", "remarks").iterator(chunk_size=CHUNK)
        for chunk in _chunks(values, CHUNK):
            signatures = cells.row_signatures([pk for pk, *_ in chunk])
            for pk, seq, data, remarks in chunk:
                line = cells(seq, data, remarks)
                if fr.dual_signature:
                    signed = signatures.get(pk, {})
                    line += [signed.get(kind) for kind in ROW_SIGNATURE_LABELS]
                writer.row(line)
            count += len(chunk)
    writer.end(_footer(fr, form))
    return count


def _writer(fmt: str, out: str | IO[bytes]) -> FrameWriter:
    if fmt == "xlsx":
        return XlsxFrameWriter(out)
    if fmt == "pdf":
        return PdfFrameWriter(out)
    if fmt == "csv":
        if isinstance(out, str):
            raise TypeError("CSV is written to an open binary file")
        return CsvFrameWriter(out)
    raise DomainError(_("Export as xlsx, pdf or csv."), field="format")


def _visible_forms(*, actor: Actor, engagement: Engagement, register_no: int) -> QuerySet[Form]:
    scope = site_scope(user=actor, engagement=engagement, capability=perms.VIEW_REGISTERS)
    if scope is None:
        raise PermissionDenied(_("You do not have the role needed for this here."))
    sites = Site.objects.filter(scope, engagement=engagement)
    return (
        Form.objects.filter(engagement=engagement, register_no=register_no, site__in=sites)
        .select_related("site")
        .order_by("site__path", "form_no", "-version")
    )


def register_export(
    *,
    actor: Actor,
    engagement: Engagement,
    register_no: int,
    fmt: str,
    out: str | IO[bytes],
    site: Site | None = None,
    form: Form | None = None,
    rows: QuerySet[Row] | None = None,
) -> ExportSummary:
    """Write 表N in the official frame: one ``form``, the current ``rows`` of a filtered queryset (grouped by
    their forms), or every current form of ``site`` (of the engagement when no site is given)."""
    catalogue.get(register_no)
    if fmt not in FORMATS:
        raise DomainError(_("Export as xlsx, pdf or csv."), field="format")
    forms = _visible_forms(actor=actor, engagement=engagement, register_no=register_no)
    if form is not None:
        forms = forms.filter(pk=form.pk)
        if not forms.exists():
            raise PermissionDenied(_("You do not have the role needed for this here."))
    elif rows is not None:
        rows = rows.filter(form__in=forms, is_current=True)
        forms = forms.filter(pk__in=rows.values("form_id"))
    else:
        forms = forms.filter(is_current=True)
        if site is not None:
            forms = forms.filter(site=site)
    selected = list(forms)
    form_rows = {
        f.pk: (rows if rows is not None else Row.objects).filter(form=f, is_current=True) for f in selected
    }
    total = sum(qs.count() for qs in form_rows.values())
    if fmt == "pdf" and total > MAX_PDF_ROWS:
        raise DomainError(
            _("%(rows)d rows are too many for a PDF (at most %(max)d); export them as xlsx or CSV.")
            % {"rows": total, "max": MAX_PDF_ROWS},
            field="format",
        )
    summary = ExportSummary(register_no, [f.form_no for f in selected], total)
    _record(
        actor=actor,
        engagement=engagement,
        site=site or (form.site if form else None),
        summary=summary,
        fmt=fmt,
        filtered=rows is not None,
    )
    writer = _writer(fmt, out)
    cells = _Cells(frame(register_no), References(engagement, reader=actor))
    if not selected:
        _write_form(writer, cells, None, None)
    for f in selected:
        _write_form(writer, cells, f, form_rows[f.pk])
    writer.close()
    return summary


def _record(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site | None,
    summary: ExportSummary,
    fmt: str,
    filtered: bool,
) -> None:
    with transaction.atomic():
        event_record(
            actor=actor,
            action=events.EXPORT,
            engagement_id=engagement.pk,
            site_id=site.pk if site else None,
            object_type="registers.register",
            object_id=str(summary.register_no),
            after={
                "register": summary.register_no,
                "format": fmt,
                "forms": summary.forms[:100],
                "form_count": len(summary.forms),
                "rows": summary.rows,
                "filtered": filtered,
            },
        )
