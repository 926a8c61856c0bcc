"""E02, 第二十八条第2项: the original super-user password cannot be obtained, and a reset by a higher account.

「若因被托管机构信息技术人员忘记超级用户密码或无法联系上相应技术人员，则上报托管工作组，经托管工作组同意后，使用解密工具或
联系系统开发商及其他技术机构进行密码破解，破解成功后，及时修改密码」. Handover does not crack a password: with the
working group's consent recorded on the E02 case (sub-type 遗忘/联系不上), the account is *reset* by the target's
administrator (the higher account the connection uses) — a one-account rotation plan of reason 重置, approved by
another person (第八条) like any plan, run through the same write-ahead pipeline: the vault entry is opened without
a secret (``vault.entry_open_unknown``), the new password sealed pending before the target is touched, set, proven
by the stored verifier and a fresh login, made current, its 表10 row drafted. When it succeeds the case records
「破解」 (the reset stands for it, with the plan named) and 「破解成功后及时修改密码」 with the 表10 row.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from handover.accounts.models import User
from handover.audit.services import event_record
from handover.core.actors import Actor, actor_name
from handover.core.errors import DomainError, PermissionDenied
from handover.discovery import drafts
from handover.org import permissions as perms
from handover.org.selectors import require
from handover.registers.models import Row
from handover.rotation import events
from handover.rotation.disables import place_of
from handover.rotation.models import FORGOTTEN, RotationItem, RotationPlan
from handover.vault import services as vault
from handover.vault.models import ChangeReason
from handover.workflow.models import CaseState, ExceptionCase
from handover.workflow.services import cases


def reconcile_plan(*, actor: Actor, case: ExceptionCase) -> RotationPlan:
    """A one-account plan resetting the account of the E02 ``case``'s 表9 row, once the working group consented.
    Refused, naming what is missing, otherwise; nothing is written then."""
    if case.path_id != "E02" or case.state != CaseState.OPEN:
        raise DomainError(_("A reset of a lost password is done within an open E02 case."), field="case")
    if case.sub_type != FORGOTTEN:
        raise DomainError(
            _("E02 %(sub)s: the working group and the firm contact the holder first (第二十八条第2项).")
            % {"sub": case.sub_type or "—"},
            field="case",
        )
    if not case.items.filter(key="wg_consent").exists():
        raise DomainError(
            _(
                "Record the working group's consent on the E02 case first (第二十八条第2项: 经托管工作组同意后)."
            ),
            field="case",
        )
    row: Row | None = case.source_row
    if row is None:
        raise DomainError(_("This E02 case has no 表9 row naming the account."), field="case")
    account, target = place_of(row)
    require(user=actor, engagement=case.engagement, capability=perms.RUN_DISCOVERY, site=target.site)
    if not isinstance(actor, User):
        raise PermissionDenied(_("A person asks for a lost password to be reset."))
    own = target.credential
    if own is not None and own.account.login_name == account.login_name:
        raise DomainError(_("The connection's own login cannot be reset by itself: reset it on the host."),
                          field="case")  # fmt: skip
    backup = drafts.backup_row_of(target, drafts.CHANGE_BACKUP)
    if backup is None:
        raise DomainError(
            _("%(account)s on %(host)s: no 表8 permission backup (改密前备份) of the host yet; gather it first "
              "(第二十六条第2项).") % {"account": account.login_name, "host": target.asset.hostname},
            field="case",
        )  # fmt: skip
    if RotationPlan.objects.filter(case=case).exclude(state="done").exists():
        raise DomainError(_("A reset within this case is already planned or running."), field="case")
    with transaction.atomic():
        entry = vault.entry_open_unknown(actor=actor, account=account)
        plan = RotationPlan.objects.create(
            engagement=case.engagement, site=target.site, reason=ChangeReason.RESET, case=case, created_by=actor,
            created_by_name=actor_name(actor), concurrency=1, per_site=1,
        )  # fmt: skip
        RotationItem.objects.create(plan=plan, entry=entry, target=target, login_name=account.login_name,
                                    backup_row=backup)  # fmt: skip
        event_record(actor=actor, action=events.PLAN_CREATE, engagement_id=case.engagement_id,
                     site_id=target.site_id, obj=plan,
                     after={"accounts": 1, "reason": ChangeReason.RESET, "e02": case.pk,
                            "account": account.login_name})  # fmt: skip
    return plan


def e02_ticks(*, actor: Actor, item: RotationItem, row: Row | None) -> str:
    """After a successful reset: the case's 「破解」 (the reset by the administrator stands for it) and 「破解成功后
    及时修改密码」 with the 表10 row; what stopped it, or ""."""
    case = item.plan.case
    if case is None:
        return ""
    said = []
    for key, note in (
        (
            "crack",
            _("reset by the administrator (rotation plan %(plan)d) instead of cracking")
            % {"plan": item.plan_id},
        ),
        (
            "change_now",
            _("new password set and verified, 表10 row %(row)s") % {"row": row.pk if row else "—"},
        ),
    ):
        if case.items.filter(key=key).exists():
            continue
        try:
            cases.case_tick(actor=actor, case=case, key=key, note=note)
        except DomainError as exc:
            said.append(_("E02 not ticked: %(why)s") % {"why": exc})
    return " ".join(said)
