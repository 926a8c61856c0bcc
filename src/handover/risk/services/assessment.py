"""The risk-assessment reports as documents (guideline 第二十条第8项 and 第三十二~三十六条), audited as every
export is."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.errors import DomainError
from handover.org.models import Engagement
from handover.org.selectors import firm_label_for
from handover.risk import events
from handover.risk.documents import assessment_docx, assessment_pdf
from handover.risk.selectors.assessment import KINDS, assessment_content

FORMATS = ("docx", "pdf")


def assessment_report_export(
    *, actor: Any, engagement: Engagement, kind: str, fmt: str, now: dt.datetime | None = None
) -> bytes:
    """The initial or overall assessment of ``engagement`` as of today, in Chinese, as docx or pdf."""
    if kind not in KINDS:
        raise DomainError(_("Choose the report kind: initial or overall."), field="kind")
    if fmt not in FORMATS:
        raise DomainError(_("Choose the format: docx or pdf."), field="format")
    hidden = firm_label_for(user=actor, engagement=engagement)  # 第十一条: None when the name may be read
    label = engagement.firm_name if hidden is None else hidden
    with translation.override("zh-hans"):
        content = assessment_content(
            user=actor, engagement=engagement, kind=kind, as_of=clock.or_now(now).date()
        )
        render = assessment_docx if fmt == "docx" else assessment_pdf
        document = render(content, firm_label=label)
    event_record(actor=actor, action=events.ASSESSMENT_EXPORT, engagement_id=engagement.pk,
                 object_type="risk.assessment", object_id=kind,
                 after={"kind": kind, "format": fmt, "bytes": len(document)})  # fmt: skip
    return document
