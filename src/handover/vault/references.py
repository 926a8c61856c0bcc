"""The registers' 保管引用 checked against the vault: a row that says its secret is in the vault names a
real entry, of the row's account, at the row's site (registers.md §1.3; docs/vault.md "References").

第二十条第6项 gives the custodian a 保险柜 for sealed envelopes; the vault is the other custody 表10 allows.
Either way the register must prove where the secret is: 第二十二条 (表9, the originals received),
第二十六条第2项 (表10, changed at handover) and 第三十一条第1项 (表27, periodic changes). An envelope's number
and safe are free text the vault cannot check; a vault reference can be, so a typo or an invented entry is
refused when the row is written, typed, imported or sent to the API (all go through ``rules.check_row``).

The check reads the entry's site, number and account, and of its versions only their kind, order and the
strength the vault measured when they were captured: no secret is read, and a message names only the
reference, the site and the account. A 表10/表27 row names an entry holding a version captured after the
original (a 保管引用 proves the change, not only the custody), and 表27's 强度符合 is the vault's measure.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from handover.registers import catalogue, rules
from handover.registers.models import Account, Form
from handover.vault.models import REFERENCE, CustodyMode, SecretEntry, SecretKind
from handover.vault.passwords import MIN_SCORE

FIELD = "vault_ref"
# 表10 and 表27 say where the secret is in 保管方式; 表9 has no such column (its 保管引用 is an envelope's
# number and safe or a vault reference), so there a reference that has the vault's form is checked.
WITH_CUSTODY_MODE = (10, 27)
REGISTERS = (9, *WITH_CUSTODY_MODE)


def check_vault_ref(form: Form, data: dict[str, Any]) -> None:
    """The row hook (registers/hooks.py): refuses a 保管引用 that names no vault entry of this row."""
    if form.register_no not in REGISTERS:
        return
    text = str(data.get(FIELD) or "")
    in_vault = data.get("custody_mode") == CustodyMode.VAULT
    if form.register_no == 27 and data.get("strength_ok") is True and not in_vault:
        raise rules.RuleViolation(
            _(
                "表27 强度符合 is the vault's check, not a confirmation (第三十一条第1项 「满足口令强度要求」): keep "
                "the new password in the vault (保管方式 密码保管系统) and name its entry, or enter 否 and register "
                "it in 表39."
            ),
            field="strength_ok",
            site_id=form.site_id,
        )
    if form.register_no in WITH_CUSTODY_MODE and not in_vault:
        return  # 第二十条第6项: a sealed envelope in the safe, or split between two people: free text
    found = list(REFERENCE.finditer(text))
    if not found:
        if form.register_no in WITH_CUSTODY_MODE and text:
            raise _violation(
                form,
                _(
                    "%(column)s must name the vault entry by its reference, e.g. %(example)s (shown on the "
                    "entry's page in the vault), since %(mode_column)s is %(mode)s."
                )
                % {
                    "column": _label(form),
                    "example": f"{form.site.code}-V001",
                    "mode_column": _label(form, "custody_mode"),
                    "mode": CustodyMode.VAULT.value,
                },
            )
        return
    if len(found) > 1:
        raise _violation(
            form,
            _("%(column)s names %(n)d vault entries (%(refs)s); a row names the one entry of its account.")
            % {"column": _label(form), "n": len(found), "refs": "、".join(m.group(0) for m in found)},
        )
    _check_entry(form, data, found[0].group(0), found[0].group("site"), int(found[0].group("number")))


def _check_entry(form: Form, data: dict[str, Any], reference: str, site_code: str, number: int) -> None:
    entry = _entry(form, site_code, number)
    if entry is None:
        raise _violation(
            form,
            _(
                "no vault entry %(ref)s at %(site)s; capture the secret in the vault first or correct the "
                "reference"
            )
            % {"ref": reference, "site": form.site.name},
        )
    if entry.site_id != form.site_id:
        # 第二十二条, 第二十六条第2项: each site's passwords are received and changed there, and its rows are
        # signed by that site's 现场技术岗位 and 被托管技术方; a row names its own site's entries.
        raise _violation(
            form,
            _(
                "vault entry %(ref)s is at %(other)s, not at %(site)s: a row of %(site)s names an entry of "
                "its own site; capture the secret there or correct the reference"
            )
            % {"ref": reference, "other": entry.site.name, "site": form.site.name},
        )
    account_id = data.get("account_id")  # a clean row: the account's id, or absent
    if isinstance(account_id, int) and entry.account_id != account_id:
        raise _violation(
            form,
            _(
                "vault entry %(ref)s holds the secret of %(held)s, not of this row's account %(account)s; "
                "choose the entry of %(account)s or correct the account"
            )
            % {"ref": reference, "held": _account_label(entry.account), "account": _account_name(account_id)},
        )
    if form.register_no in WITH_CUSTODY_MODE:
        _check_new_version(form, data, reference, entry)


def _check_new_version(form: Form, data: dict[str, Any], reference: str, entry: SecretEntry) -> None:
    """C4, C21: a changed secret's reference names an entry holding a version captured after the original
    (第二十六条第2项, 第三十一条第1项), read from the versions' metadata, never their secrets; and 表27's
    强度符合 is that version's strength as the vault measured it."""
    kinds, score = _versions(entry)
    if data.get("secret_changed", True) is not False and not kinds:
        raise _violation(
            form,
            _(
                "vault entry %(ref)s holds only the original as received (表9); a changed password is captured "
                "in the vault as a new version first (第二十六条第2项), then named here"
            )
            % {"ref": reference},
        )
    if form.register_no == 27 and data.get("strength_ok") is True and score < MIN_SCORE:
        raise rules.RuleViolation(
            _(
                "表27 强度符合 is 是, but the vault measured the password of %(ref)s at strength %(score)d of 4 "
                "(at least %(min)d; 第三十一条第1项): enter 否 and register it in 表39, or capture a stronger one."
            )
            % {"ref": reference, "score": score, "min": MIN_SCORE},
            field="strength_ok",
            site_id=form.site_id,
        )


def _versions(entry: SecretEntry) -> tuple[list[str], int]:
    """The kinds of the entry's versions captured after its latest original, and the newest one's strength."""
    versions = list(
        entry.versions.filter(pending=False).order_by("number").values_list("kind", "strength_score")
    )
    originals = [i for i, (kind, _score) in enumerate(versions) if kind == SecretKind.ORIGINAL]
    later = versions[originals[-1] + 1 :] if originals else versions
    return [kind for kind, _score in later], (later[-1][1] if later else 0)


def _entry(form: Form, site_code: str, number: int) -> SecretEntry | None:
    """The entry ``number`` of the site coded ``site_code`` in the form's engagement (never another's)."""
    return rules.memoised(
        ("vault-entry", form.engagement_id, site_code.upper(), number),
        lambda: (
            SecretEntry.objects.filter(
                engagement_id=form.engagement_id, site__code__iexact=site_code, number=number
            )
            .select_related("site", "account", "account__asset")
            .first()
        ),
    )


def _account_label(account: Account) -> str:
    return f"{account.login_name}@{account.asset.hostname}" if account.asset else account.login_name


def _account_name(account_id: int) -> str:
    account = Account.objects.filter(pk=account_id).select_related("asset").first()
    return _account_label(account) if account is not None else str(account_id)


def _label(form: Form, key: str = FIELD) -> str:
    return next(column.zh for column in catalogue.columns(form.register_no) if column.key == key)


def _violation(form: Form, message: str) -> rules.RuleViolation:
    return rules.RuleViolation(message, field=FIELD, site_id=form.site_id)


def reference_of_account(account_id: int) -> str:
    """The custody hook (registers/hooks.py): the reference of the account's vault entry, or ""."""
    entry = SecretEntry.objects.filter(account_id=account_id).select_related("site").first()
    return entry.reference if entry is not None else ""
