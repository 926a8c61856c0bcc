"""E01, 第二十八条第1项: a password change that broke the system, and the original restored only on purpose.

「如果对超级用户（包括等效超级用户）及后台用户进行密码修改后，进行相应测试时，发现系统不能正常运行，且确认为因修改
密码引起，在取得系统开发商技术支持后仍不能更改成功，则恢复原密码，同时应填写《系统故障风险登记表》（表39）上报至技术组。」

- A rotation whose verification fails (outcome 失败) opens its E01 case from its drafted 表10 row at once
  (``e01_open``); people open one from any other rotated 表10 row when the system misbehaves after a change.
- The original comes back only through a revert inside that case: requested by one person with the reason,
  approved by another (第八条), applied once and only after the case records the developer's support (the
  path's order). Applying seals the previous secret again as a pending version (``vault.secret_stage_copy``:
  the value never leaves the vault), sets it on the target unless the target already holds it (the first rung:
  the stored verifier is read before anything is changed), proves it by the stored verifier and a fresh login
  as the account, makes it current, compares everything but the password before and after, drafts its own
  表10 row and ticks 「恢复原密码」 on the case, whose 表39 entry people then sign and report (the case's close).
- Where the verifier the change replaced was sealed (rotation/verifiers.py: shadow hash, SCRAM string,
  authentication_string, userPassword, SPARE4) and is the original's, that very verifier is put back, not the
  password with a new salt, and the stored verifier read afterwards must equal it; elsewhere the original is set.
- A target that does not take the previous secret leaves the new one current and working (the copy is
  abandoned); the revert is 失败 with what is known. No secret is in any record, event or command line.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.accounts.models import User
from handover.audit.services import event_record
from handover.connectors.change import LOCAL, fresh_login
from handover.connectors.errors import GatherError
from handover.connectors.manifest import Credential
from handover.core.actors import Actor, actor_name
from handover.core.errors import DomainError, PermissionDenied
from handover.discovery.services import engine_target
from handover.org import permissions as perms
from handover.org.models import Phase
from handover.org.selectors import require
from handover.registers.models import Row
from handover.rotation import events, services, verifiers
from handover.rotation.approval import second_person_approve
from handover.rotation.models import ItemState, Revert, RevertState, RotationItem
from handover.vault import services as vault
from handover.vault.models import ChangeReason, VerifyResult
from handover.workflow import paths
from handover.workflow.models import CaseState, ExceptionCase
from handover.workflow.services import cases
from handover.workflow.services.common import clean_text

RESTORE_ITEM = "restore_original"  # E01's checklist item 「恢复原密码」 (workflow.paths)


def _changer(item: RotationItem) -> Any:
    return services.CHANGERS[item.target.connector]


def item_of_row(row: Row) -> RotationItem | None:
    """The rotated account whose 表10 row is ``row`` (any version of it: a row corrected or signed later keeps
    its form and number)."""
    return (
        RotationItem.objects.filter(row__form_id=row.form_id, row__seq=row.seq, state=ItemState.DONE)
        .select_related("entry__account", "target__credential__account", "target__asset", "target__site")
        .order_by("-pk")
        .first()
    )


def open_case_of(row: Row | None) -> ExceptionCase | None:
    """The open E01 case started from a rotation's 表10 ``row`` (any version of it), if any."""
    if row is None:
        return None
    return (
        ExceptionCase.objects.filter(
            source_row__form_id=row.form_id, source_row__seq=row.seq, path_id="E01", state=CaseState.OPEN
        )
        .order_by("-pk")
        .first()
    )


def e01_open(*, actor: Actor, item: RotationItem, row: Row) -> str:
    """Open the E01 case of a failed change from its 表10 row; what stopped it, or "" once opened. Called by the
    run when the ladder fails: the case is the to-do list of 第二十八条第1项 (developer's support, then perhaps
    the original restored, 表39 reported)."""
    engagement = item.plan.engagement
    if engagement.phase == Phase.PREPARATION:
        return _("E01 not opened: exception paths start in 交接期.")
    if open_case_of(row) is not None:
        return ""
    description = _(
        "Password change of %(account)s on %(host)s failed its verification: %(why)s (第二十八条第1项)."
    ) % {"account": item.login_name, "host": item.target.asset.hostname, "why": item.reason or "—"}
    try:
        case = cases.case_open(actor=actor, engagement=engagement, path_id="E01", description=description,
                               source_row=row)  # fmt: skip
    except (DomainError, PermissionDenied) as exc:
        return _("E01 not opened: %(why)s") % {"why": exc}
    event_record(actor=actor, action=events.E01_OPEN, engagement_id=engagement.pk, site_id=case.site_id,
                 obj=item.plan, after={"account": item.login_name, "case": case.pk, "row": row.pk})  # fmt: skip
    return ""


def _previous(item: RotationItem) -> int:
    """The version the item's change replaced; refused while a later change is current."""
    entry = item.entry
    current = vault.current_version(entry)
    if item.version_number is None or current is None or current.number < item.version_number:
        raise DomainError(
            _("This change never became current: the original is current already."), field="case"
        )
    if current.number != item.version_number:
        raise DomainError(
            _("A later change (v%(n)d) is current: restore from that change's 表10 row.")
            % {"n": current.number},
            field="case",
        )
    previous = (
        entry.versions.filter(number__lt=item.version_number, pending=False, abandoned_at__isnull=True)
        .order_by("-number")
        .first()
    )
    if previous is None:
        raise DomainError(_("The vault holds no version before this change."), field="case")
    return previous.number


def revert_request(*, actor: Actor, case: ExceptionCase, reason: str) -> Revert:
    """Ask to restore the original password of the account whose 表10 row opened the E01 ``case``."""
    if case.path_id != "E01" or case.state != CaseState.OPEN:
        raise DomainError(_("An original password is restored within an open E01 case."), field="case")
    item = item_of_row(case.source_row) if case.source_row is not None else None
    if item is None:
        raise DomainError(
            _("This E01 case did not start from a 表10 row of a rotation: restore by hand and record it."),
            field="case",
        )
    require(user=actor, engagement=case.engagement, capability=perms.RUN_DISCOVERY, site=item.target.site)
    if not isinstance(actor, User):
        raise PermissionDenied(_("A person asks for an original password to be restored."))
    clean = clean_text(reason, "reason") if (reason or "").strip() else ""
    if not clean:
        raise DomainError(
            _("Say why the original must come back: what does not run since the change (第二十八条第1项)."),
            field="reason",
        )
    previous = _previous(item)
    try:
        with transaction.atomic():
            revert = Revert.objects.create(
                engagement=case.engagement, item=item, case=case, reason=clean, previous_number=previous,
                requested_by=actor, requested_by_name=actor_name(actor),
            )  # fmt: skip
            event_record(actor=actor, action=events.REVERT_REQUEST, engagement_id=case.engagement_id,
                         site_id=case.site_id, obj=revert,
                         after={"account": item.login_name, "case": case.pk, "version": previous,
                                "reason": clean})  # fmt: skip
    except IntegrityError:
        raise DomainError(_("A restore of this account is already waiting."), field="case") from None
    return revert


def revert_approve(*, actor: Actor, revert: Revert) -> Revert:
    """第八条: another person than the one who asked approves."""
    return second_person_approve(
        actor=actor, request=revert, site=revert.item.target.site, action=events.REVERT_APPROVE, field="revert",
        after={"account": revert.item.login_name},
        refusals=(_("A person approves the restore of an original password."),
                  _("You asked for this restore: another person must approve it (第八条)."),
                  _("This restore is not waiting for approval.")),
    )  # fmt: skip


def _support_first(case: ExceptionCase) -> None:
    """第二十八条第1项 「在取得系统开发商技术支持后仍不能更改成功」: the case records the developer's support first."""
    done = set(case.items.values_list("key", flat=True))
    refusal = paths.next_refusal("E01", done, RESTORE_ITEM, {}, case.sub_type)
    if refusal:
        raise DomainError(
            _(
                "Record the developer's support on the E01 case first (第二十八条第1项: 在取得系统开发商技术支持后)."
            ),
            field="case",
        )


def revert_apply(*, actor: Actor, revert: Revert) -> Revert:
    """Apply an approved restore once: seal the original again (pending), set it unless the target holds it,
    prove it, make it current, draft its 表10 row, tick the case. Every step is committed before the next."""
    item = revert.item
    require(user=actor, engagement=revert.engagement, capability=perms.RUN_DISCOVERY, site=item.target.site)
    with transaction.atomic():
        locked = Revert.objects.select_for_update().select_related("case").get(pk=revert.pk)
        if locked.state != RevertState.APPROVED:
            raise DomainError(_("Only an approved restore is applied, once."), field="revert")
        if locked.case.state != CaseState.OPEN:
            raise DomainError(_("The E01 case is closed."), field="case")
        _support_first(locked.case)
        if locked.version_number is None:  # a run stopped after sealing resumes with its copy
            copy = vault.secret_stage_copy(actor=actor, entry=item.entry, from_number=locked.previous_number,
                                           reason=ChangeReason.OTHER)  # fmt: skip
            locked.version_number = copy.number
            locked.save(update_fields=["version_number"])
    holds, outcome, detail = _set_and_prove(actor, locked, item)
    return _finish(actor, locked, item, holds, outcome, detail)


def _admin(item: RotationItem, revert: Revert, *, restored: bool) -> Credential:
    """The connection's credential: the target's current secret, or — the account being restored is that very
    login and the target holds the original again — the copy."""
    return services.connection(item, pending_number=revert.version_number if restored else None,
                               purpose="revert: connect", task=f"revert:{revert.pk}")  # fmt: skip


def _exact(actor: Actor, revert: Revert, item: RotationItem, changer: Any, original: str) -> str | None:
    """The verifier sealed before the change, when the platform can put it back and it is the original's (a
    verifier the vault's original does not log in with is never restored); else None: the password is set."""
    if not verifiers.supported(changer):
        return None
    exact = verifiers.opened(actor=actor, item=item, revert_id=revert.pk)
    try:
        return exact if exact is not None and changer.verifier_holds(exact, original) else None
    except ValueError:  # a verifier this side cannot parse: not put back
        return None


def _set_and_prove(actor: Actor, revert: Revert, item: RotationItem) -> tuple[bool | None, str, str]:
    """The network part: (whether the target holds the original now — None when unknown —, outcome, what is
    known). At most one change and one login as the account per apply. Where the verifier the change replaced
    was sealed (rotation/verifiers.py), that very verifier is put back and the stored one compared with it."""
    changer, place = _changer(item), engine_target(item.target)
    original = vault.secret_use_for_task(entry_id=item.entry_id, purpose="revert: the original password",
                                         task=f"revert:{revert.pk}", pending_number=revert.version_number)  # fmt: skip
    exact = _exact(actor, revert, item, changer, original)
    try:
        admin = _admin(item, revert, restored=False)
        try:
            held = bool(asyncio.run(changer.stored_matches(place, admin, item.login_name, original)))
        except GatherError:
            if item.entry_id != item.target.credential_id:
                raise
            # the connection's own login, refused with the current secret: an apply that stopped after the change
            admin = _admin(item, revert, restored=True)
            held = bool(asyncio.run(changer.stored_matches(place, admin, item.login_name, original)))
        before = asyncio.run(changer.snapshot(place, admin, item.login_name))
        if not held:
            if exact is not None:
                asyncio.run(changer.set_verifier(place, admin, item.login_name, exact))
            else:
                asyncio.run(changer.change(place, admin, item.login_name, original))
            admin = _admin(item, revert, restored=True)
        if not asyncio.run(changer.stored_matches(place, admin, item.login_name, original)):
            return (
                False,
                VerifyResult.FAILED,
                _("The target did not take the original password; the new one stays."),
            )
        now = (
            asyncio.run(changer.stored_verifier(place, admin, item.login_name)) if exact is not None else None
        )
        after = asyncio.run(changer.snapshot(place, admin, item.login_name))
        login, rung = asyncio.run(fresh_login(changer, place, item.login_name, original, admin=admin))
    except GatherError as exc:
        return (
            None,
            VerifyResult.UNVERIFIED,
            _("The target could not be reached or refused: %(why)s") % {"why": exc.reason_zh},
        )
    finally:
        del original
    moved = [key for key, value in after.__dict__.items() if before.__dict__.get(key) != value]
    if moved:
        why = _("Besides the password, this changed: %(what)s.") % {"what": ", ".join(moved)}
        return True, VerifyResult.FAILED, why
    if exact is not None and not verifiers.same(changer, now, exact):
        why = _("The target holds the original password but not the verifier it had before the change.")
        return True, VerifyResult.FAILED, why
    if not login:
        return (
            True,
            VerifyResult.UNVERIFIED,
            _(
                "The target holds the original password but a login as the account was refused (direct login may be "
                "forbidden)."
            ),
        )
    said = []
    if exact is not None:
        said.append(_("The verifier the account had before the change was put back exactly."))
    if rung == LOCAL:
        said.append(
            _("Verified by a local login (su): a direct login as this account is forbidden on the host.")
        )
    return True, VerifyResult.SUCCESS, " ".join(said)


def _finish(
    actor: Actor, revert: Revert, item: RotationItem, holds: bool | None, outcome: str, detail: str
) -> Revert:
    """Record what the apply found. Unknown (the target unreachable): the restore stays approved with the reason,
    its pending copy kept — applying again reads the target first and never changes it twice."""
    assert revert.version_number is not None  # sealed before the target was touched
    copy = item.entry.versions.get(number=revert.version_number)
    row = None
    with transaction.atomic():
        if holds is None:
            Revert.objects.filter(pk=revert.pk).update(detail=detail[:2000])
            revert.refresh_from_db()
            return revert
        if holds:
            if copy.pending:
                vault.secret_promote(
                    actor=actor, version=copy, verified=outcome
                )  # the target's secret: current
            row, problem = _draft_t10(actor, revert, item, outcome)
            detail = " ".join(p for p in (detail, problem) if p)
        elif copy.pending:
            vault.secret_abandon(actor=actor, version=copy, why="the target did not take the original")
        state = RevertState.APPLIED if holds and outcome == VerifyResult.SUCCESS else RevertState.FAILED
        Revert.objects.filter(pk=revert.pk).update(
            state=state, outcome=outcome, detail=detail[:2000], row=row, applied_at=timezone.now()
        )
        revert.refresh_from_db()
        event_record(actor=actor, action=events.REVERT_APPLY, engagement_id=revert.engagement_id,
                     site_id=item.target.site_id, obj=revert,
                     outcome="success" if state == RevertState.APPLIED else "failure",
                     after={"account": item.login_name, "version": revert.version_number, "outcome": outcome,
                            "row": row.pk if row else None, "reason": detail[:300]})  # fmt: skip
    if holds:
        record = _("restore #%(n)d, vault v%(v)d, 表10 row %(row)s") % {
            "n": revert.pk,
            "v": revert.version_number,
            "row": row.pk if row else "—",
        }
        try:
            cases.case_tick(actor=actor, case=revert.case, key=RESTORE_ITEM, note=record)
        except (
            DomainError
        ) as exc:  # ticked by hand already, or the case closed meanwhile: said on the restore
            note = _("E01 not ticked: %(why)s") % {"why": exc}
            Revert.objects.filter(pk=revert.pk).update(detail=f"{revert.detail} {note}".strip()[:2000])
            revert.refresh_from_db()
    return revert


def _draft_t10(actor: Actor, revert: Revert, item: RotationItem, outcome: str) -> tuple[Row | None, str]:
    """The restore's own 表10 row (a draft: people sign it), beside the change's."""
    from handover.discovery import drafts
    from handover.registers import services as registers

    data = {**services.change_row(item, outcome), "pre_backup_ref": item.backup_row_id}
    data = {k: v for k, v in data.items() if v not in (None, "")}
    remarks = _("Original password restored (第二十八条第1项), E01 case #%(case)d, restore #%(n)d.") % {
        "case": revert.case_id,
        "n": revert.pk,
    }
    try:
        form = drafts.Drafter(actor=actor, target=item.target).form(10)
        return registers.row_add(actor=actor, form=form, data=data, remarks=remarks, partial=True), ""
    except DomainError as exc:
        return None, _("表10 not drafted: %(why)s") % {"why": exc}
