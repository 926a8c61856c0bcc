"""停用 on the firm's systems (第二十六条第3项 A) and its exact restore (第二十八条第3项, E03).

「对于认为不必要的用户，可先停用，观察一段时间后确认无用再删除」: the decision is the account's 表11 row (处理措施 停用,
停用观察至: the registers keep it an open item while watched and after its date, C6). Handover carries it out:

- ``disable_request`` from that row (one person), ``disable_approve`` (another, 第八条), ``disable_apply``: the
  account's lock state is read and recorded *before* anything changes (``before``), then the platform's disable
  (Linux ``usermod -L -e 1``; PostgreSQL ``NOLOGIN``; MariaDB ``ACCOUNT LOCK``; OpenLDAP ppolicy
  ``pwdAccountLockedTime``; AD ``userAccountControl`` bit 2), then the state read again and proven disabled.
  The connection's own login is never disabled.
- 「在停用等效超级用户及认为不必要的用户后，发现系统运行异常，则恢复相应用户」: ``disable_restore`` within an open E03
  case opened from the same 表11 row by another person: the recorded ``before`` brought back (what was locked
  before stays locked), proven equal, 「恢复相应用户」 ticked; the case then asks for the password change (表10).
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from handover.accounts.models import User
from handover.audit.services import event_record
from handover.connectors.errors import GatherError
from handover.connectors.manifest import Credential
from handover.core import clock
from handover.core.actors import Actor, actor_name
from handover.core.errors import DomainError, PermissionDenied
from handover.discovery.models import Target
from handover.discovery.services import engine_target
from handover.org import permissions as perms
from handover.org.selectors import one_side, require
from handover.registers.models import Account, Row
from handover.rotation import events, services
from handover.rotation.approval import second_person_approve
from handover.rotation.models import Disablement, DisableState
from handover.vault import services as vault
from handover.workflow.deadlines import BEIJING
from handover.workflow.models import CaseState, ExceptionCase
from handover.workflow.services import cases

RESTORE_ITEM = "restore_user"  # E03's 「恢复相应用户」 (workflow.paths)


def _changer(target: Target) -> Any:
    changer = services.CHANGERS.get(target.connector)
    if changer is None:
        raise DomainError(_("Handover does not disable accounts on %(kind)s targets.") % {"kind": target.connector},
                          field="target")  # fmt: skip
    return changer


def place_of(row: Row) -> tuple[Account, Target]:
    """The account a register row names (表9, 表11 …) and the live discovery target of its host and system."""
    account = Account.objects.filter(
        pk=row.data.get("account_id"), engagement_id=row.form.engagement_id
    ).first()
    if account is None or account.asset_id is None:
        where = {"n": row.form.register_no, "seq": row.seq}
        raise DomainError(
            _("表%(n)d row %(seq)d, column 用户: no account on a known host.") % where, field="row"
        )
    target = (
        Target.objects.filter(
            asset_id=account.asset_id, system_id=account.system_id, is_active=True, credential__isnull=False
        )
        .select_related("credential__account", "asset", "site")
        .first()
    )
    if target is None:
        raise DomainError(
            _("表%(n)d row %(seq)d: %(host)s has no discovery target with a vault credential; add it first.")
            % {
                "n": row.form.register_no,
                "seq": row.seq,
                "host": account.asset.hostname if account.asset else "—",
            },
            field="row",
        )
    return account, target


def disable_request(*, actor: Actor, row: Row) -> Disablement:
    """Ask to disable the account of a signed or drafted 表11 row whose 处理措施 is 停用, until its 停用观察至."""
    if row.form.register_no != 11 or not row.is_current:
        raise DomainError(_("停用 is decided on a current 表11 row."), field="row")
    if row.data.get("action") != "停用":
        raise DomainError(
            _("表11 row %(seq)d, column 处理措施: it is not 停用.") % {"seq": row.seq}, field="row"
        )
    until = parse_date(str(row.data.get("disable_until") or ""))
    today = clock.now().astimezone(BEIJING).date()
    if until is None or until <= today:
        raise DomainError(
            _(
                "表11 row %(seq)d, column 停用观察至: give a date after today (第二十六条第3项 A: 观察一段时间)."
            )
            % {"seq": row.seq},
            field="row",
        )
    account, target = place_of(row)
    _changer(target)
    require(user=actor, engagement=target.engagement, capability=perms.RUN_DISCOVERY, site=target.site)
    if not isinstance(actor, User):
        raise PermissionDenied(_("A person asks for an account to be disabled."))
    if target.credential is not None and target.credential.account.login_name == account.login_name:
        raise DomainError(_("The connection's own login is not disabled: change the target's credential first."),
                          field="row")  # fmt: skip
    try:
        with transaction.atomic():
            found = Disablement.objects.create(
                engagement=target.engagement, target=target, t11_row=row, login_name=account.login_name,
                observe_until=until, requested_by=actor, requested_by_name=actor_name(actor),
            )  # fmt: skip
            event_record(actor=actor, action=events.DISABLE_REQUEST, engagement_id=target.engagement_id,
                         site_id=target.site_id, obj=found,
                         after={"account": account.login_name, "host": target.asset.hostname,
                                "until": until.isoformat(), "row": row.pk})  # fmt: skip
    except IntegrityError:
        raise DomainError(_("%(account)s is already being disabled or is disabled.") % {"account": account.login_name},
                          field="row") from None  # fmt: skip
    return found


def disable_approve(*, actor: Actor, disablement: Disablement) -> Disablement:
    """第八条: another person than the one who asked."""
    return second_person_approve(
        actor=actor, request=disablement, site=disablement.target.site, action=events.DISABLE_APPROVE,
        field="disablement", after={"account": disablement.login_name},
        refusals=(_("A person approves disabling an account."),
                  _("You asked for this: another person must approve it (第八条)."),
                  _("This is not waiting for approval.")),
    )  # fmt: skip


def _admin(target: Target, why: str) -> Credential:
    entry = target.credential
    assert entry is not None
    return Credential(entry.account.login_name, vault.secret_use_for_task(entry_id=entry.pk, purpose=why))


def disable_apply(*, actor: Actor, disablement: Disablement) -> Disablement:
    """Disable the account: its lock state recorded first, then disabled, then proven."""
    target = disablement.target
    require(user=actor, engagement=disablement.engagement, capability=perms.RUN_DISCOVERY, site=target.site)
    changer, place = _changer(target), engine_target(target)
    with transaction.atomic():
        locked = Disablement.objects.select_for_update().get(pk=disablement.pk)
        if locked.state != DisableState.APPROVED:
            raise DomainError(_("Only an approved 停用 is applied, once."), field="disablement")
    admin = _admin(target, "disable: connect")
    try:
        if not locked.before:  # write-ahead: what comes back on E03 is known before anything changes
            before = asyncio.run(changer.lock_state(place, admin, locked.login_name))
            Disablement.objects.filter(pk=locked.pk).update(before=before)
            locked.before = before
        asyncio.run(changer.disable(place, admin, locked.login_name))
        after = asyncio.run(changer.lock_state(place, admin, locked.login_name))
    except GatherError as exc:
        Disablement.objects.filter(pk=locked.pk).update(
            detail=exc.reason_zh[:2000]
        )  # stays approved: apply again
        locked.refresh_from_db()
        return locked
    ok = changer.disabled(after)
    detail = "" if ok else _("The target does not show the account disabled after the command.")
    if ok and changer.disabled(locked.before):
        detail = _("The account was disabled already; its restore keeps it so.")
    with transaction.atomic():
        Disablement.objects.filter(pk=locked.pk).update(
            state=DisableState.DISABLED if ok else DisableState.FAILED, detail=detail,
            disabled_at=timezone.now() if ok else None,
        )  # fmt: skip
        locked.refresh_from_db()
        event_record(actor=actor, action=events.DISABLE_APPLY, engagement_id=locked.engagement_id,
                     site_id=target.site_id, obj=locked, outcome="success" if ok else "failure",
                     after={"account": locked.login_name, "host": target.asset.hostname, "before": locked.before,
                            "after": after})  # fmt: skip
    return locked


def disable_restore(*, actor: Actor, disablement: Disablement, case: ExceptionCase) -> Disablement:
    """E03 (第二十八条第3项): bring the account back exactly as it was, within the open E03 case opened from its
    表11 row by another person; tick 「恢复相应用户」."""
    target = disablement.target
    require(user=actor, engagement=disablement.engagement, capability=perms.RUN_DISCOVERY, site=target.site)
    row = disablement.t11_row
    source = case.source_row
    if (case.path_id != "E03" or case.state != CaseState.OPEN or source is None
            or (source.form_id, source.seq) != (row.form_id, row.seq)):  # fmt: skip
        raise DomainError(_("A disabled account is restored within the open E03 case of its 表11 row."),
                          field="case")  # fmt: skip
    if case.opened_by is not None and one_side(a=actor, b=case.opened_by):
        raise PermissionDenied(_("You opened this E03 case: another person restores the account (第八条)."))
    if disablement.state != DisableState.DISABLED:
        raise DomainError(_("Only a disabled account is restored."), field="disablement")
    changer, place = _changer(target), engine_target(target)
    admin = _admin(target, "disable: restore")
    try:
        asyncio.run(changer.enable(place, admin, disablement.login_name, disablement.before))
        after = asyncio.run(changer.lock_state(place, admin, disablement.login_name))
    except GatherError as exc:
        Disablement.objects.filter(pk=disablement.pk).update(detail=exc.reason_zh[:2000])
        disablement.refresh_from_db()
        return disablement
    ok = after == disablement.before
    with transaction.atomic():
        Disablement.objects.filter(pk=disablement.pk).update(
            state=DisableState.RESTORED if ok else DisableState.DISABLED, case=case,
            restored_at=timezone.now() if ok else None,
            detail="" if ok else _("After the restore the account is not as it was before the disable."),
        )  # fmt: skip
        disablement.refresh_from_db()
        event_record(actor=actor, action=events.DISABLE_RESTORE, engagement_id=disablement.engagement_id,
                     site_id=target.site_id, obj=disablement, outcome="success" if ok else "failure",
                     after={"account": disablement.login_name, "case": case.pk, "state": after})  # fmt: skip
    if ok:
        note = _("restored as before the 停用 (#%(n)d)") % {"n": disablement.pk}
        try:
            cases.case_tick(actor=actor, case=case, key=RESTORE_ITEM, note=note)
        except DomainError as exc:
            Disablement.objects.filter(pk=disablement.pk).update(
                detail=_("E03 not ticked: %(why)s") % {"why": exc}
            )
            disablement.refresh_from_db()
    return disablement
