"""What a stored inventory and its findings draft in the registers (第二十六条第2、3项). Nothing is signed
by the machine: rows are partial drafts that people complete and sign.

- 表8: the sources marked ``backup`` are the permission backup; one 权限核查前备份 and one 改密前备份 row of
  对象 用户权限配置文件 name them with their digests (the gates of 表10, 表11 and 表13 ask for these).
- 表9: a row per super-user (超级用户 / 等效超级用户) whose secret has to be received.
- 表11: a row per system-level account (OS, database, directory) with its rights before the check, its
  user's status and a proposed action drawn from its findings, pointing at the 表8 backup (the gate).
- 表12: a row per operator of an application (``AccountKind.APPLICATION``).

A row already signed is never touched; an unsigned draft of the same account is brought up to date, and a
person's entries in it (the action they chose) are kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.connectors.model import AccountKind, Inventory
from handover.core.errors import DomainError
from handover.discovery.models import Decision, Finding, Snapshot, Target
from handover.discovery.store import privileges_text
from handover.registers import catalogue
from handover.registers import services as registers
from handover.registers.models import Account, Form, FormState, Row, Signature

PERMISSION_BACKUP, CHANGE_BACKUP = "权限核查前备份", "改密前备份"

# The proposed 表11 action for an account, from the strongest finding on it (第二十六条第3项 A–D).
PROPOSAL = (
    ("departed_staff", Decision.DISABLE),
    ("key_of_departed", Decision.DISABLE),
    ("batch_superuser", Decision.REPLACE),
    ("shared_account", Decision.PERSONAL),
    ("superuser_equivalent", Decision.REDUCE),
    ("duplicate_uid", Decision.REDUCE),
    ("empty_password", Decision.CHANGE_SECRET),
    ("password_never_expires", Decision.CHANGE_SECRET),
    ("password_old", Decision.CHANGE_SECRET),
    ("dormant", Decision.DISABLE),
)
# 表12 核查结论 has no 修改密码, 改为专人专户 or 建替代用户.
T12_CONCLUSION = {Decision.DISABLE: "停用", Decision.DELETE: "删除", Decision.REDUCE: "降权"}
# 表13 调整类别 of a decision; 保留 changes nothing, 修改密码 is a 表10 row (第二十六条第2项).
CHANGE_TYPE = {
    Decision.DISABLE: "A停用",
    Decision.DELETE: "A删除",
    Decision.REDUCE: "B降权",
    Decision.PERSONAL: "C专人专户",
    Decision.REPLACE: "D替代超级用户",
}


def _minute(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def proposal(rules: set[str]) -> Decision:
    """The action the findings on one account suggest; 保留 when none does."""
    return next((decision for rule, decision in PROPOSAL if rule in rules), Decision.KEEP)


class Drafter:
    """Writes the drafts of one site's registers, reusing each register's open draft form."""

    # ``Any`` for the actor: ``None`` for a drafter that only reads (backup_row_of), an Actor for one that writes; the
    # writes would need the two split before this takes ``Actor | None``.
    def __init__(self, *, actor: Any, target: Target) -> None:
        self.actor, self.target = actor, target
        self.forms: dict[int, Form] = {}
        # The site's current rows of each register, read once (newest first) and kept up to date by ``write``:
        # a run drafts dozens of rows per host, and a query per row over the site's JSON was most of its time.
        self._rows: dict[int, list[Row]] = {}

    def form(self, register: int) -> Form:
        if register not in self.forms:
            found = (
                Form.objects.filter(
                    engagement=self.target.engagement,
                    site=self.target.site,
                    register_no=register,
                    is_current=True,
                    state=FormState.DRAFT,
                )
                .order_by("-form_date", "-pk")
                .first()
            )
            self.forms[register] = found or registers.form_create(
                actor=self.actor,
                engagement=self.target.engagement,
                site=self.target.site,
                register_no=register,
                form_date=timezone.localdate(),
            )
        return self.forms[register]

    def rows(self, register: int, **match: Any) -> list[Row]:
        """Current rows of ``register`` at the site whose data has these values (newest first)."""
        if register not in self._rows:
            self._rows[register] = list(
                Row.objects.filter(
                    form__engagement=self.target.engagement,
                    form__site=self.target.site,
                    form__register_no=register,
                    form__is_current=True,
                    is_current=True,
                )
                .select_related("form")
                .annotate(signed=Exists(Signature.objects.filter(row=OuterRef("pk"))))
                .order_by("-pk")
            )
        return [r for r in self._rows[register] if all(r.data.get(k) == v for k, v in match.items())]

    def write(
        self,
        register: int,
        data: dict[str, Any],
        *,
        remarks: str = "",
        keep: tuple[str, ...] = (),
        **match: Any,
    ) -> Row | None:
        """Add the draft row, or update the unsigned one matching; None when a signed one stands."""
        existing = self.rows(register, **match)
        editable = next((r for r in existing if _editable(r)), None)
        if editable is None and existing:
            return None
        data = {k: v for k, v in data.items() if v not in (None, "")}
        try:
            if editable is None:
                row = registers.row_add(
                    actor=self.actor, form=self.form(register), data=data, remarks=remarks, partial=True
                )
                row.signed = False  # type: ignore[attr-defined]
                self.rows(register)  # loaded before the new row joins it
                self._rows[register].insert(0, row)
                return row
            kept = {k: editable.data[k] for k in keep if editable.data.get(k) not in (None, "")}
            return registers.row_update(
                actor=self.actor,
                row=editable,
                data={**editable.data, **data, **kept},
                remarks=remarks,
                partial=True,
            )
        except registers.RowInvalid as exc:
            column, messages = next(iter(exc.errors.items()))
            label = next((c.zh for c in catalogue.columns(register) if c.key == column), column)
            raise DomainError(
                _("Discovery cannot draft 表%(n)d, column %(column)s: %(reason)s Nothing was stored.")
                % {"n": register, "column": label, "reason": " ".join(messages)},
                field="registers",
            ) from exc


def _editable(row: Row) -> bool:
    form_open = row.form.state in (FormState.DRAFT, FormState.SUBMITTED) and row.form.is_current
    signed = row.signed if hasattr(row, "signed") else row.signatures.exists()
    return form_open and not signed


def backup_rows(drafter: Drafter, snapshot: Snapshot) -> Row | None:
    """The 表8 rows of the snapshot's permission backup; returns the 权限核查前备份 row (None: no backup)."""
    sources = list(snapshot.sources.filter(backup=True))
    if not sources:
        return None
    target = drafter.target
    content = _("Snapshot %(sha)s (discovery run %(run)s):") % {
        "sha": snapshot.sha256[:12],
        "run": snapshot.run_id,
    }
    content += "\n" + "\n".join(
        f"{s.name} {s.digest}" + (" " + _("(sealed in the vault)") if s.sealed else "") for s in sources
    )
    at = _minute(snapshot.gathered_at)
    found = None
    for purpose in (PERMISSION_BACKUP, CHANGE_BACKUP):
        data = {
            "system_id": target.system_id,
            "asset_id": target.asset_id,
            "purpose": purpose,
            "object_type": "用户权限配置文件",
            "content": content,
            "method": "文件备份",
            "started_at": at,
            "ended_at": at,
            "readable": "通过",
        }
        row = drafter.write(8, data, system_id=target.system_id, asset_id=target.asset_id, purpose=purpose)
        if purpose == PERMISSION_BACKUP:
            found = row
    return found


def backup_row_of(target: Target, purpose: str = PERMISSION_BACKUP) -> Row | None:
    """The newest usable 表8 row of the target's system and host for ``purpose`` (权限核查前备份 by default;
    改密前备份 for a password change, 第二十六条第2项), signed or not."""
    rows = Drafter(actor=None, target=target).rows(
        8, system_id=target.system_id, asset_id=target.asset_id, purpose=purpose
    )
    return next((r for r in rows if r.data.get("readable") != "不通过"), None)


def account_rows(drafter: Drafter, inventory: Inventory, findings: list[Finding]) -> dict[str, int]:
    """表9, 表11 and 表12 drafts for the accounts of ``inventory``; counts of rows written per register."""
    target = drafter.target
    by_account: dict[str, set[str]] = {}
    for finding in findings:
        by_account.setdefault(finding.account_name, set()).add(finding.rule)
    entities = {a.login_name: a for a in Account.objects.filter(system=target.system, asset=target.asset)}
    backup = backup_row_of(target)
    counts = {"9": 0, "11": 0, "12": 0}
    for account in inventory.accounts:
        entity = entities.get(account.name[:200])
        if entity is None:
            continue
        rules = by_account.get(account.name, set())
        proposed = proposal(rules)
        remarks = _findings_remark(rules)
        if account.kind == AccountKind.APPLICATION:
            counts["12"] += _t12(drafter, entity, account, proposed, rules, remarks)
            continue
        if account.superuser:
            counts["9"] += _t9(drafter, entity)
        if backup is not None:
            counts["11"] += _t11(drafter, entity, account, proposed, rules, backup, remarks)
    return counts


def _findings_remark(rules: set[str]) -> str:
    return _("Drafted by discovery; findings: %(rules)s") % {"rules": "、".join(sorted(rules)) or "-"}


def _t9(drafter: Drafter, entity: Account) -> int:
    if drafter.rows(9, account_id=entity.pk):
        return 0
    data = {
        "system_id": entity.system_id,
        "asset_id": entity.asset_id,
        "layer": entity.layer,
        "account_id": entity.pk,
        "account_class": entity.account_class,
    }
    return int(drafter.write(9, data, account_id=entity.pk) is not None)


def _user_status(rules: set[str]) -> str:
    if rules & {"departed_staff", "key_of_departed"}:
        return "离职"
    if "shared_account" in rules:
        return "共用"
    return "未知"


def _t11(
    drafter: Drafter,
    entity: Account,
    account: Any,
    proposed: Decision,
    rules: set[str],
    backup: Row,
    remarks: str,
) -> int:
    data = {
        "system_id": entity.system_id,
        "asset_id": entity.asset_id,
        "layer": entity.layer,
        "account_id": entity.pk,
        "account_class": entity.account_class,
        "user_person_id": entity.owner_id,
        "user_status": _user_status(rules),
        "perm_before": privileges_text(account.privileges) or _("(no privileges found)"),
        "used_for_batch": True if "batch_superuser" in rules else None,
        "dedicated": False if "shared_account" in rules else None,
        "action": proposed.value,
        "pre_backup_ref": backup.pk,
    }
    row = drafter.write(11, data, remarks=remarks, keep=("action",), account_id=entity.pk)
    return int(row is not None)


def _t12(
    drafter: Drafter, entity: Account, account: Any, proposed: Decision, rules: set[str], remarks: str
) -> int:
    data = {
        "person_id": entity.owner_id,
        "site_id": drafter.target.site_id,
        "system_id": entity.system_id,
        "account_id": entity.pk,
        "role": "、".join(account.groups)[:200],
        "functions": privileges_text(account.privileges),
        "staff_status": "离职" if rules & {"departed_staff"} else None,
        "dedicated": False if "shared_account" in rules else None,
        "conclusion": T12_CONCLUSION.get(proposed, "保留"),
    }
    row = drafter.write(12, data, remarks=remarks, keep=("conclusion",), account_id=entity.pk)
    return int(row is not None)
