"""The exception paths of 第二十八条: start, tick, link the 表39 entry, close."""

from __future__ import annotations

import datetime as dt
from typing import BinaryIO

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor, actor_user
from handover.core.errors import DomainError
from handover.notifications.links import Link
from handover.notifications.services import notify
from handover.org import permissions as perms
from handover.org.models import Engagement, Phase, Site
from handover.org.selectors import require, working_group_member
from handover.registers.models import Row
from handover.workflow import events, paths, state, topics
from handover.workflow.models import CaseItem, CaseRiskAcceptance, CaseState, ExceptionCase
from handover.workflow.services.common import clean_text, evidence_create, user_or_none

# Exception paths (第二十八条) ------------------------------------------------------------------------------


def _check_source(path: paths.Path, source_row: Row | None, engagement: Engagement) -> None:
    if source_row is None:
        if path.id in paths.SOURCED:
            raise DomainError(
                _("%(path)s starts from the register row where the problem shows (表%(regs)s).")
                % {"path": path.id, "regs": "、表".join(map(str, path.sources))},
                field="source_row",
            )
        return
    form = source_row.form
    if form.engagement_id != engagement.pk:
        raise DomainError(_("That row belongs to another engagement."), field="source_row")
    if form.register_no not in path.sources:
        raise DomainError(
            _("%(path)s starts from a row of 表%(regs)s, not of 表%(n)d.")
            % {"path": path.id, "regs": "、表".join(map(str, path.sources)), "n": form.register_no},
            field="source_row",
        )


def case_open(
    *,
    actor: Actor,
    engagement: Engagement,
    path_id: str,
    description: str,
    site: Site | None = None,
    source_row: Row | None = None,
    sub_type: str = "",
    now: dt.datetime | None = None,
) -> ExceptionCase:
    """Start an exception path from the register row where the problem shows (a failed 表10 test starts E01);
    the site is the row's. E11/E12 belong to 稳定期 and need no source row."""
    path = paths.BY_ID.get(path_id)
    if path is None:
        raise DomainError(_("There is no exception path %(id)s.") % {"id": path_id}, field="path_id")
    _check_source(path, source_row, engagement)
    if source_row is not None:
        if site is not None and site.pk != source_row.form.site_id:
            raise DomainError(_("The row is from another site."), field="source_row")
        site = source_row.form.site
    if site is None or site.engagement_id != engagement.pk:
        raise DomainError(_("Choose the site where the problem shows."), field="site")
    require(user=actor, engagement=engagement, capability=perms.HANDLE_EXCEPTIONS, site=site)
    if engagement.phase == Phase.PREPARATION or (
        path.id in paths.STABILISATION_ONLY and engagement.phase != Phase.STABILISATION
    ):
        raise DomainError(
            _("%(path)s is not a path of the %(phase)s.")
            % {"path": path.id, "phase": Phase(engagement.phase).label},
            field="path_id",
        )
    if path.sub_types and sub_type not in path.sub_types:
        raise DomainError(
            _("Choose the sub-type: %(types)s.") % {"types": "、".join(path.sub_types)}, field="sub_type"
        )
    if not path.sub_types and sub_type:
        raise DomainError(_("%(path)s has no sub-types.") % {"path": path.id}, field="sub_type")
    clean = clean_text(description, "description")
    with transaction.atomic():
        case = ExceptionCase.objects.create(
            engagement=engagement,
            site=site,
            path_id=path.id,
            sub_type=sub_type,
            source_row=source_row,
            description=clean,
            opened_by=user_or_none(actor),
            opened_at=clock.or_now(now),
        )
        event_record(
            actor=actor,
            action=events.CASE_OPEN,
            engagement_id=engagement.pk,
            site_id=site.pk,
            obj=case,
            after={
                "path": path.id,
                "sub_type": sub_type,
                "source_row": source_row.pk if source_row else None,
                "description": clean,
            },
        )
        notify(
            actor=actor,
            engagement=engagement,
            topic=topics.CASE_OPEN,
            site=site,
            title=_("%(site)s: %(path)s started") % {"site": site.name, "path": f"{path.id} {path.zh}"},
            body=clean,
            link=Link("workflow:case", code=engagement.code, case_id=case.pk),
            summary_title=_("Exception path %(path)s started") % {"path": f"{path.id} {path.zh}"},
            now=case.opened_at,
        )
    return case


def _done(case: ExceptionCase) -> dict[str, str]:
    return dict(case.items.values_list("key", "record"))


def _refusal_message(path: paths.Path, key: str, refusal: str) -> str:
    kind, _sep, detail = refusal.partition(":")
    if path.id == "E02" and key == "crack" and kind == "after":
        return _(
            "Cracking needs the working group's consent first: record it under 「取得托管工作组同意」 "
            "(第二十八条第2项)."
        )
    if kind == "after":
        names = "、".join(path.item(k).zh for k in detail.split(","))
        return _("Do this first: %(items)s.") % {"items": names}
    if kind == "record" and detail == "courier_no":
        return _("Enter the courier's waybill number (第二十八条第8项: 采用快递方式).")
    if kind == "record" and detail == "consent":
        return _("Enter the reference of the working group's consent (letter or minutes number).")
    if kind == "record":
        return _("Name the developer or technical body that gave support.")
    return _("This item belongs to the other case of %(path)s, not to %(sub)s.") % {
        "path": path.id,
        "sub": detail,
    }


def _open_case(case: ExceptionCase) -> None:
    if case.state != CaseState.OPEN:
        raise DomainError(_("This exception case is closed."), field="case")


def case_tick(
    *,
    actor: Actor,
    case: ExceptionCase,
    key: str,
    record: str = "",
    note: str = "",
    file_name: str = "",
    stream: BinaryIO | None = None,
    now: dt.datetime | None = None,
) -> CaseItem:
    """Record a prescribed item of the path as done, with the record it needs; the order of the path holds."""
    require(user=actor, engagement=case.engagement, capability=perms.HANDLE_EXCEPTIONS, site=case.site)
    _open_case(case)
    path = paths.BY_ID[case.path_id]
    if key == paths.CLOSE or key not in {item.key for item in path.items}:
        raise DomainError(_("Choose an item of this path's checklist."), field="key")
    done = _done(case)
    if key in done:
        raise DomainError(_("This item is done already."), field="key")
    item = path.item(key)
    clean_record = clean_text(record, "record") if record.strip() else ""
    refusal = paths.next_refusal(
        path.id, set(done), key, {item.record: clean_record} if item.record else {}, case.sub_type
    )
    if refusal:
        raise DomainError(
            _refusal_message(path, key, refusal), field="record" if "record" in refusal else "key"
        )
    clean_note = clean_text(note, "note") if note.strip() else ""
    at = clock.or_now(now)
    with transaction.atomic():
        evidence = (
            evidence_create(actor, case.engagement, file_name, stream, item.zh, at)
            if stream is not None
            else None
        )
        try:
            with transaction.atomic():
                entry = CaseItem.objects.create(
                    case=case,
                    key=key,
                    record=clean_record,
                    note=clean_note,
                    evidence=evidence,
                    done_by=user_or_none(actor),
                    done_at=at,
                )
        except IntegrityError:
            raise DomainError(_("This item is done already."), field="key") from None
        event_record(
            actor=actor,
            action=events.CASE_TICK,
            engagement_id=case.engagement_id,
            site_id=case.site_id,
            obj=entry,
            after={
                "case": case.pk,
                "key": key,
                "record": clean_record,
                "note": clean_note,
                "evidence": evidence.sha256 if evidence else None,
            },
        )
    return entry


def case_link_t39(
    *, actor: Actor, case: ExceptionCase, row: Row, now: dt.datetime | None = None
) -> ExceptionCase:
    """Name the 表39 entry that ends the path: a row of 表39 at the case's site, of the case's type."""
    require(user=actor, engagement=case.engagement, capability=perms.HANDLE_EXCEPTIONS, site=case.site)
    _open_case(case)
    form = row.form
    if form.register_no != 39 or form.engagement_id != case.engagement_id:
        raise DomainError(_("Choose a row of 表39 of this engagement."), field="row")
    if form.site_id != case.site_id:
        raise DomainError(_("The 表39 entry must be the case's site's."), field="row")
    exc_type = str(row.data.get("exc_type", ""))
    if not exc_type.startswith(case.path_id):
        raise DomainError(
            _("The 表39 entry is of type %(got)s, the case is %(path)s.")
            % {"got": exc_type or "-", "path": case.path_id},
            field="row",
        )
    if case.sub_type and row.data.get("sub_type") != case.sub_type:
        raise DomainError(
            _("The 表39 entry's sub-type is %(got)s, the case's %(sub)s.")
            % {"got": row.data.get("sub_type") or "-", "sub": case.sub_type},
            field="row",
        )
    ref = row.data.get("source_row_ref")
    if case.source_row_id and ref and int(ref) != case.source_row_id:
        raise DomainError(
            _("The 表39 entry names source row %(ref)s, the case started from row %(row)s.")
            % {"ref": ref, "row": case.source_row_id},
            field="row",
        )
    with transaction.atomic():
        before = case.t39_row_id
        ExceptionCase.objects.filter(pk=case.pk).update(t39_row=row)
        case.t39_row = row
        event_record(
            actor=actor,
            action=events.CASE_LINK_T39,
            engagement_id=case.engagement_id,
            site_id=case.site_id,
            obj=case,
            before={"t39_row": before},
            after={"t39_row": row.pk, "form": form.form_no, "seq": row.seq},
        )
    return case


def current_t39(case: ExceptionCase) -> Row | None:
    """The current version of the case's 表39 row (a corrected form or row replaces the linked one)."""
    if case.t39_row is None:
        return None
    linked = case.t39_row
    return (
        Row.objects.filter(
            form__engagement_id=case.engagement_id,
            form__form_no=linked.form.form_no,
            form__is_current=True,
            seq=linked.seq,
            is_current=True,
        )
        .select_related("form")
        .first()
    )


def _close_refusal(case: ExceptionCase, done: dict[str, str]) -> str:
    path = paths.BY_ID[case.path_id]
    missing = paths.required_open(path.id, set(done), case.sub_type)
    refusal = paths.next_refusal(path.id, set(done), paths.CLOSE, {}, case.sub_type)
    if missing or refusal:
        keys = missing or tuple(refusal.partition(":")[2].split(","))
        return _("Do these first: %(items)s.") % {"items": "、".join(path.item(k).zh for k in keys)}
    row = current_t39(case)
    if row is None:
        return _("Link the 表39 entry first: every exception ends in 表39, reported to 技术组 (第二十八条).")
    if row.form.state not in state.SIGNED:
        return _("The 表39 form %(no)s is not signed yet.") % {"no": row.form.form_no}
    if not row.data.get("reported_tg_at"):
        return _("The 表39 entry has no 上报技术组 time: report it to 技术组 first.")
    if (path.report_wg or "report_wg_tamper" in done) and not row.data.get("reported_wg_at"):
        return _(
            "The 表39 entry has no 上报托管工作组 time: this path must be reported to the working group."
        )
    return ""


REASON_MAX = 2000


def case_risk_accept(
    *, actor: Actor, case: ExceptionCase, reason: str, now: dt.datetime | None = None
) -> CaseRiskAcceptance:
    """第二十七条第4项, 第二十八条: a member of the 托管工作组, acting for itself, accepts an exception case still open
    as a residual risk, with the reason; the approval of 表24 and the move to 稳定期 then no longer wait for it.
    Never 技术组 or the site: the case's own people cannot excuse it (第八条)."""
    require(user=actor, engagement=case.engagement, capability=perms.APPROVE_PACKAGE)
    person = working_group_member(user=actor, engagement=case.engagement)
    if person is None:
        raise DomainError(
            _("Only a member of the custody working group (托管工作组) accepts a residual risk."),
            field="user",
        )
    _open_case(case)
    clean = clean_text(reason, "reason")
    if len(clean) > REASON_MAX:  # the page posts a free text: bounded like the other reasons
        raise DomainError(_("Keep the reason within %(n)d characters.") % {"n": REASON_MAX}, field="reason")
    at = clock.or_now(now)
    with transaction.atomic():
        try:
            with transaction.atomic():
                accepted = CaseRiskAcceptance.objects.create(
                    case=case, reason=clean, accepted_by=person, login=actor_user(actor), accepted_at=at
                )
        except IntegrityError:
            raise DomainError(_("This case is accepted as a residual risk already."), field="case") from None
        event_record(
            actor=actor,
            action=events.CASE_RISK_ACCEPT,
            engagement_id=case.engagement_id,
            site_id=case.site_id,
            obj=case,
            after={"path": case.path_id, "reason": clean, "accepted_by": person.pk},
        )
    return accepted


def case_close(*, actor: Actor, case: ExceptionCase, now: dt.datetime | None = None) -> ExceptionCase:
    """Close the path: its items done and its 表39 entry signed and reported to 技术组 (第二十八条)."""
    require(user=actor, engagement=case.engagement, capability=perms.HANDLE_EXCEPTIONS, site=case.site)
    _open_case(case)
    refusal = _close_refusal(case, _done(case))
    if refusal:
        raise DomainError(refusal, field="case")
    at = clock.or_now(now)
    row = current_t39(case)
    assert row is not None
    with transaction.atomic():
        closed = ExceptionCase.objects.filter(pk=case.pk, state=CaseState.OPEN).update(
            state=CaseState.CLOSED, closed_at=at, closed_by=user_or_none(actor), t39_row=row
        )
        if not closed:  # closed by someone else since this page was read
            raise DomainError(_("This exception case is closed."), field="case")
        CaseItem.objects.create(
            case=case, key=paths.CLOSE, record=row.form.form_no, done_by=user_or_none(actor), done_at=at
        )
        event_record(
            actor=actor,
            action=events.CASE_CLOSE,
            engagement_id=case.engagement_id,
            site_id=case.site_id,
            obj=case,
            before={"state": CaseState.OPEN},
            after={
                "state": CaseState.CLOSED,
                "t39_form": row.form.form_no,
                "t39_seq": row.seq,
                "reported_tg_at": row.data.get("reported_tg_at"),
            },
        )
        notify(
            actor=actor,
            engagement=case.engagement,
            topic=topics.CASE_CLOSE,
            site=case.site,
            title=_("%(site)s: %(path)s closed with 表39 %(no)s")
            % {"site": case.site.name, "path": case.path_id, "no": row.form.form_no},
            link=Link("workflow:case", code=case.engagement.code, case_id=case.pk),
            summary_title=_("Exception path %(path)s closed") % {"path": case.path_id},
            now=at,
        )
    case.state, case.closed_at, case.t39_row = CaseState.CLOSED, at, row
    return case


def close_refusal(case: ExceptionCase) -> str:
    """Why the case cannot close now ("" when it can), for the page to show before anyone tries."""
    return "" if case.state != CaseState.OPEN else _close_refusal(case, _done(case))
