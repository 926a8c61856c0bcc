"""The risk-assessment reports as documents (guideline 第二十条第8项 and 第三十二~三十六条), audited as every
export is."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.org.selectors import firm_label_for
from handover.risk import events
from handover.risk.documents import assessment_docx, assessment_pdf
from handover.risk.models import AssessmentReport
from handover.risk.selectors.assessment import KINDS, assessment_content
from handover.risk.services.common import allowed, person_of, same_side, who
from handover.workflow import storage
from handover.workflow.deadlines import BEIJING

FORMATS = ("docx", "pdf")


def assessment_report_export(
    *, actor: Actor, engagement: Engagement, kind: str, fmt: str, now: dt.datetime | None = None
) -> bytes:
    """The initial, security or overall assessment of ``engagement`` as of today, in Chinese, as docx or pdf."""
    if kind not in KINDS:
        raise DomainError(_("Choose the report kind: initial, security or overall."), field="kind")
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


def assessment_report_issue(
    *,
    actor: Actor,
    engagement: Engagement,
    kind: str,
    assessors: str,
    scope: str,
    now: dt.datetime | None = None,
) -> AssessmentReport:
    """Generate the report of ``kind`` as of today and keep it as the next version, with who assessed and what
    was in scope; it is a draft until the assessor signs and a second person reviews it."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    if kind not in KINDS:
        raise DomainError(_("Choose the report kind: initial, security or overall."), field="kind")
    for field, value in (("assessors", assessors), ("scope", scope)):
        if not (value or "").strip():
            raise DomainError(
                _(
                    "Name the assessors (persons, organisation, qualification) and the scope (第二十六条第9项)."
                ),
                field=field,
            )
    today = clock.or_now(now).astimezone(BEIJING).date()
    hidden = firm_label_for(user=actor, engagement=engagement)
    label = engagement.firm_name if hidden is None else hidden
    with translation.override("zh-hans"):
        content = assessment_content(user=actor, engagement=engagement, kind=kind, as_of=today)
        document = assessment_docx(content, firm_label=label)
    # Generated here, not uploaded: kept in the evidence store by its hash without the upload checks (which take
    # no Word files from people).
    kept = storage.evidence_store().put([document], limit=None)
    _user, name = who(actor)
    with transaction.atomic():
        version = AssessmentReport.objects.filter(engagement=engagement, kind=kind).count() + 1
        try:
            with transaction.atomic():
                report = AssessmentReport.objects.create(
                    engagement=engagement, kind=kind, version=version, as_of=today, assessors=assessors.strip(),
                    scope=scope.strip(), sha256=kept.sha256, size=kept.size, made_by_name=name,
                )  # fmt: skip
        except IntegrityError:
            raise DomainError(_("Another version was issued at the same moment; issue it again."),
                              field="kind") from None  # fmt: skip
        event_record(actor=actor, action=events.ASSESSMENT_ISSUE, engagement_id=engagement.pk, obj=report,
                     after={"kind": kind, "version": version, "sha256": kept.sha256})  # fmt: skip
    return report


def assessment_report_sign(*, actor: Actor, report: AssessmentReport) -> AssessmentReport:
    """The assessor signs first; then a second person reviews and signs (第八条: never the same person)."""
    engagement = report.engagement
    allowed(actor, engagement, perms.MANAGE_RISK)
    person = person_of(actor, engagement)
    with transaction.atomic():
        locked = AssessmentReport.objects.select_for_update().get(pk=report.pk)
        if locked.reviewed_at is not None:
            raise DomainError(_("This version is signed and reviewed already."), field="report")
        if locked.signed_by_id is None:
            locked.signed_by, locked.signed_at, role = person, clock.now(), "assessor"
        elif locked.signed_by_id == person.pk or same_side(actor, locked.signed_by):
            raise DomainError(
                _("The review is signed by another person than the assessor (第八条)."), field="actor"
            )
        else:
            locked.reviewed_by, locked.reviewed_at, role = person, clock.now(), "reviewer"
        locked.save(update_fields=["signed_by", "signed_at", "reviewed_by", "reviewed_at"])
        event_record(actor=actor, action=events.ASSESSMENT_SIGN, engagement_id=engagement.pk, obj=locked,
                     after={"kind": locked.kind, "version": locked.version, "as": role, "by": person.pk})  # fmt: skip
    return locked


def assessment_report_file(*, actor: Actor, report: AssessmentReport) -> bytes:
    """The stored Word file of a version, checked against its hash."""
    from handover.org.selectors import require

    require(user=actor, engagement=report.engagement, capability=perms.VIEW_RISK)
    with storage.open_verified(report.sha256, f"{report.kind} v{report.version}") as stored:
        return stored.read()
