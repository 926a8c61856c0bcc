"""Every vault flow with canary secrets, run as its own process against a real deployment (the laptop
settings, a data folder of its own, a running key keeper), so that every write is committed to the real
database files and every log line goes to the real log file. tests/vault/test_canary.py starts it and then
scans what it left behind.

Usage: ``python -m tests.vault.canary_flows OUT_DIR``. Each response body is written to OUT_DIR; the two
responses that may carry a secret (the reveal and the show-once page of a generated password) are written
as ``allowed-*.bin``, and the generated password to ``generated.txt``, outside the data folder.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

CANARY = "Canary#7Qz!Vault-9xW"  # captured as an original, then revealed once
CANARY_MISTYPED = "Canary#7Qz!Vault-9xQ"  # typed in the confirmation field only
CANARY_WEAK = "canarypass1"  # refused as weak
CANARY_CLI = "CliCanary$4Lm#8Rt2"  # put through the command line
CANARY_NEW = "NewCanary%3Tp&Vault-5kR"  # set on the handover day (表10), after the reveal of the original
CANARIES = (CANARY, CANARY_MISTYPED, CANARY_WEAK, CANARY_CLI, CANARY_NEW)
HOST = {"HTTP_HOST": "localhost"}


class Flows:
    def __init__(self, out: Path) -> None:
        from django.test import Client

        from tests.factories import World

        self.out, self.count = out, 0
        self.world = World()
        self.code = self.world.engagement.code
        self.clients: dict[str, Client] = {}
        self.users: dict[str, Any] = {}

    def client(self, name: str, role: str, site: Any = None) -> Any:
        from django.test import Client

        user = self.world.login_with(role, site=site, username=name)
        client = Client(**HOST)
        client.force_login(user)
        self.clients[name] = client
        self.users[name] = user
        return user

    def keep(self, what: str, response: Any, allowed: bool = False) -> bytes:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        self.count += 1
        prefix = "allowed-" if allowed else ""
        (self.out / f"{prefix}{self.count:02d}-{re.sub(r'[^a-z]+', '-', what)}.bin").write_bytes(body)
        return body

    def capture(self, who: str, **fields: str) -> Any:
        from django.urls import reverse

        data = {
            "site": self.world.branch_a.pk,
            "system": "集中交易",
            "new_system": "on",
            "hostname": "trade01",
            "login_name": "root",
            "layer": "操作系统",
            "account_class": "超级用户",
            "kind": "original",
            "custody_mode": "密码保管系统",
            "platform": "generic",
            "length": "20",
            **fields,
        }
        return self.clients[who].post(reverse("vault:entry_capture", kwargs={"code": self.code}), data)


def _unseal(shares: list[str]) -> None:
    from handover.core.actors import system
    from handover.vault import lifecycle

    result: dict[str, Any] = {"nonce": ""}
    for share in shares:
        result = lifecycle.vault_share_enter(actor=system("canary"), share_text=share, nonce=result["nonce"])
    assert result["unsealed"]


def _captures(flows: Flows) -> str:
    """Mistyped, weak, stored and generated; returns the generated password."""
    keep, capture = flows.keep, flows.capture
    keep("mistyped", capture("firm", secret=CANARY, secret_again=CANARY_MISTYPED))
    keep("weak", capture("firm", kind="changed", secret=CANARY_WEAK, secret_again=CANARY_WEAK))
    stored = capture("firm", secret=CANARY, secret_again=CANARY)
    assert stored.status_code == 302, stored.content.decode()[:3000]
    keep("weak again", capture("firm", kind="changed", secret=CANARY_WEAK, secret_again=CANARY_WEAK))
    generated = keep("generated", capture("firm", login_name="oracle", kind="changed", generate="on"), True)
    found = re.search(rb'data-testid="secret-value">([^<]+)<', generated)
    assert found, "the generated password was not shown"
    return html.unescape(found.group(1).decode())


def _reads(flows: Flows, entry: Any) -> None:
    from django.urls import reverse

    code, firm = flows.code, flows.clients["firm"]
    for name, kwargs in (
        ("vault:entry_list", {"code": code}),
        ("vault:entry_detail", {"code": code, "entry_id": entry.pk}),
        ("vault:overdue", {"code": code}),
        ("org:site_detail", {"code": code, "site_id": flows.world.branch_a.pk}),
        ("api:vault-entry-list", {"code": code}),
        ("api:vault-entry-detail", {"code": code, "pk": entry.pk}),
        ("api:vault-status", {}),
    ):
        flows.keep(name, firm.get(reverse(name, kwargs=kwargs)))
    verify = reverse("vault:entry_verify", kwargs={"code": code, "entry_id": entry.pk})
    flows.keep("verify", firm.post(verify, {"result": "成功"}, follow=True))


def _reveal(flows: Flows, entry: Any, totp: Any) -> None:
    from django.urls import reverse

    from handover.vault.models import RevealRequest
    from tests.vault.helpers import next_code

    code, firm, onsite = flows.code, flows.clients["firm"], flows.clients["onsite"]
    ask = reverse("vault:reveal_request", kwargs={"code": code, "entry_id": entry.pk})
    flows.keep("ask", firm.post(ask, {"purpose": "view", "reason": "交接日登录验证"}, follow=True))
    request = RevealRequest.objects.get(entry=entry)
    approve = reverse("vault:request_approve", kwargs={"code": code, "request_id": request.pk})
    flows.keep("self approve", firm.post(approve, {"code": "000000"}))
    flows.keep("wrong code", onsite.post(approve, {"code": "000000"}))
    flows.keep("approve", onsite.post(approve, {"code": next_code(totp)}, follow=True))
    flows.keep("api requests", firm.get(reverse("api:vault-request-list", kwargs={"code": code})))
    opening = reverse("vault:reveal_open", kwargs={"code": code, "request_id": request.pk})
    flows.keep("open page", firm.get(opening))
    revealed = flows.keep("reveal", firm.post(opening), True)
    assert CANARY.encode() in revealed, "the reveal did not show the secret"
    flows.keep("second open", firm.post(opening, follow=True))
    flows.keep("request list", firm.get(reverse("vault:request_list", kwargs={"code": code})))


def _sealed(flows: Flows, entry: Any) -> None:
    from django.urls import reverse

    from handover.core.actors import system
    from handover.vault import lifecycle
    from handover.vault.models import RevealRequest

    firm_user = flows.world.engagement.people.get(name="firm").user
    again = RevealRequest.objects.create(entry=entry, requester=firm_user, reason="再次", purpose="view")
    lifecycle.vault_seal(actor=system("canary"))
    flows.keep("sealed capture", flows.capture("firm", login_name="sys", secret=CANARY, secret_again=CANARY))
    opening = reverse("vault:reveal_open", kwargs={"code": flows.code, "request_id": again.pk})
    flows.keep("sealed open", flows.clients["firm"].post(opening, follow=True))


def _cli(flows: Flows) -> None:
    """``handover vault put`` in a process of its own, the secret on its standard input; it is given the
    keeper's caller secret, which this process took out of its own environment when it read it."""
    from handover.vault.keeper.secret import ENV_TOKEN, caller_secret

    env = {**os.environ, ENV_TOKEN: caller_secret()}
    args = ["vault", "put", "--engagement", flows.code, "--site", "BA", "--system", "核心", "--account", "sa"]
    done = subprocess.run(
        [str(Path(sys.executable).with_name("handover")), *args],
        input=CANARY_CLI + "\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (flows.out / "cli-put.txt").write_text(done.stdout + done.stderr)
    refused = subprocess.run(
        [str(Path(sys.executable).with_name("handover")), *args[:-1], "weak", "--kind", "changed"],
        input=CANARY_WEAK + "\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    (flows.out / "cli-refused.txt").write_text(refused.stdout + refused.stderr)


def _machines(flows: Flows, shares: list[str]) -> None:
    from handover.core.actors import system
    from handover.registers.models import Account
    from handover.vault import lifecycle
    from handover.vault.services import secret_use_for_task

    progress = lifecycle.QuorumProgress(index=0, nonce="", entered=[], threshold=3)
    for share in shares[:3]:  # a rotation needs the threshold of current shares, as an unseal does
        progress = lifecycle.vault_rotate_master(
            actor=system("canary"), share_text=share, nonce=progress.nonce
        )
    assert progress.done
    new, progress = progress.shares, lifecycle.QuorumProgress(index=0, nonce="", entered=[], threshold=3)
    for share in new[:3]:  # re-wrapped only once the new key's shares are entered back
        progress = lifecycle.vault_pending_verify(
            actor=system("canary"), share_text=share, nonce=progress.nonce
        )
    assert progress.done
    entry = Account.objects.get(login_name="sa").vault_entry
    assert secret_use_for_task(entry_id=entry.pk, purpose="canary", task="t-1") == CANARY_CLI


def _change(flows: Flows) -> None:
    """The handover-day change (表10): the original is replaced by a new password, through the same form."""
    changed = flows.capture("firm", kind="changed", secret=CANARY_NEW, secret_again=CANARY_NEW)
    assert changed.status_code == 302, changed.content.decode()[:3000]


def _t8(account: Any) -> dict[str, Any]:
    """The 表8 改密前备份 a 表10 row needs (第二十六条第2项: back up before changing a password)."""
    return {
        "system_id": account.system_id,
        "asset_id": account.asset_id,
        "purpose": "改密前备份",
        "object_type": "用户权限配置文件",
        "content": "用户与权限表",
        "method": "文件备份",
        "started_at": "2026-12-01T15:30",
        "ended_at": "2026-12-01T15:40",
        "media_type": "移动硬盘",
        "media_no": "HD-01",
        "copies": 2,
        "readable": "通过",
        "location": "保险柜A",
        "seal_no": "FT-01",
    }


def _t9(account: Any, vault_ref: str, firm: Any, onsite: Any) -> dict[str, Any]:
    return {
        "system_id": account.system_id,
        "asset_id": account.asset_id,
        "layer": account.layer,
        "account_id": account.pk,
        "account_class": account.account_class,
        "original_holders": [firm.pk],
        "obtained_by": "被托管技术方提供",
        "vault_ref": vault_ref,
        "secret_captured": True,
        "login_verified": "成功",
        "verified_at": "2026-12-01T16:05",
        "holders": [onsite.pk],
        "witness": onsite.pk,
    }


def _t10(account: Any, vault_ref: str, receipt: Any, backup: Any, firm: Any) -> dict[str, Any]:
    return {
        "system_id": account.system_id,
        "asset_id": account.asset_id,
        "layer": account.layer,
        "account_id": account.pk,
        "account_class": account.account_class,
        "prior_ref": receipt.pk,
        "pre_backup_ref": backup.pk,
        "changed_at": "2026-12-01T17:00",
        "executor": firm.pk,
        "secret_changed": True,
        "vault_ref": vault_ref,
        "custody_mode": "密码保管系统",
        "holders": [firm.pk],
        "login_verified": "成功",
        "verified_at": "2026-12-01T17:05",
        "used_in_config": "不涉及",
        "test_result": "正常",
    }


def _refused_in_register(flows: Flows, form: Any, data: dict[str, Any]) -> None:
    """registers.md §1.3: the canary typed into 表9's free text is refused, and the refusal does not echo it."""
    from handover.registers import services
    from handover.registers.services import RowInvalid

    try:
        services.row_add(actor=flows.users["firm"], form=form, data={**data, "vault_ref": CANARY})
    except RowInvalid as refused:
        said = f"{refused.message} {refused.errors}"
        assert "vault_ref" in refused.errors, said
        (flows.out / "register-refusal.txt").write_text(said)
    else:
        raise AssertionError("表9 accepted a password in 保管引用")


def _signed(flows: Flows, form: Any, rows: list[Any]) -> None:
    """Both row signatures (第八条), then submission and the footer signatures."""
    from handover.registers import services

    firm, onsite = flows.users["firm"], flows.users["onsite"]
    for row in rows:
        services.row_sign(actor=firm, row=row, kind="executor")
        services.row_sign(actor=onsite, row=row, kind="supervisor")
    services.form_submit(actor=firm, form=form)
    for user in (onsite, firm):
        services.form_sign(actor=user, form=form)


def _registers(flows: Flows, entry: Any) -> str:
    """表8, 表9 and 表10 rows for the canary's account, pointing at its vault entry; returns the reference."""
    from datetime import date

    from handover.registers import services

    world, firm_user = flows.world, flows.users["firm"]
    people = world.engagement.people
    firm, onsite = people.get(user=firm_user), people.get(user=flows.users["onsite"])
    account, vault_ref = entry.account, f"密码保管系统条目 {entry.reference}"
    forms = {
        n: services.form_create(
            actor=firm_user,
            engagement=world.engagement,
            site=world.branch_a,
            register_no=n,
            form_date=date(2026, 12, 1),
        )
        for n in (8, 9, 10)
    }
    backup = services.row_add(actor=firm_user, form=forms[8], data=_t8(account))
    t9 = _t9(account, vault_ref, firm, onsite)
    _refused_in_register(flows, forms[9], t9)
    receipt = services.row_add(actor=firm_user, form=forms[9], data=t9)
    _change(flows)
    change = services.row_add(
        actor=firm_user, form=forms[10], data=_t10(account, vault_ref, receipt, backup, firm)
    )
    for n, row in ((8, backup), (9, receipt), (10, change)):
        _signed(flows, forms[n], [row])
    return vault_ref


def _register_exports(flows: Flows) -> None:
    """表9 and 表10 as xlsx, CSV and PDF, through the service and through ``handover registers export``."""
    from handover.registers.io.exporting import FORMATS, register_export

    handover = str(Path(sys.executable).with_name("handover"))
    for number in (9, 10):
        for fmt in FORMATS:
            with (flows.out / f"register-{number}.{fmt}").open("wb") as out:
                summary = register_export(
                    actor=flows.users["firm"],
                    engagement=flows.world.engagement,
                    register_no=number,
                    fmt=fmt,
                    out=out,
                )
            assert summary.rows == 1, summary
            path = flows.out / f"cli-register-{number}.{fmt}"
            args = ["registers", "export", "--engagement", flows.code, "--register", str(number)]
            done = subprocess.run(
                [handover, *args, "--format", fmt, "-o", str(path)],
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            (flows.out / f"cli-register-{number}-{fmt}.txt").write_text(done.stdout + done.stderr)


def _exports(flows: Flows) -> None:
    from django.urls import reverse

    from handover.audit.models import Event
    from handover.org.models import Role

    flows.client("auditor", Role.AUDITOR)
    flows.keep("audit csv", flows.clients["auditor"].get(reverse("audit:event_export_csv")))
    flows.keep("audit xlsx", flows.clients["auditor"].get(reverse("audit:event_export_xlsx")))
    rows = list(Event.objects.order_by("seq").values())
    (flows.out / "audit-table.json").write_text(json.dumps(rows, default=str, ensure_ascii=False))


def run(out: Path) -> None:
    from django.db import connection

    from handover.core.actors import system
    from handover.core.context import command_context
    from handover.org.models import Role
    from handover.vault import lifecycle
    from handover.vault.models import SecretEntry
    from tests.vault.helpers import enrol_totp

    connection.force_debug_cursor = True  # every SQL statement and its parameters go to the log file
    logging.getLogger("django.db.backends").setLevel(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    with command_context("cli"):
        shares = lifecycle.vault_init(actor=system("canary"), shares=5, threshold=3).shares
        _unseal(shares[2:])
        flows = Flows(out)
        flows.client("firm", Role.FIRM_IT, flows.world.branch_a)
        onsite = flows.client("onsite", Role.ONSITE_POST, flows.world.branch_a)
        totp = enrol_totp(onsite)
        flows.clients["onsite"].force_login(onsite)  # enrolling a factor ended the login's earlier sessions
        generated = _captures(flows)
        (out / "generated.txt").write_text(generated)
        entry = SecretEntry.objects.get(account__login_name="root")
        _reads(flows, entry)
        _reveal(flows, entry, totp)
        (out / "vault-ref.txt").write_text(_registers(flows, entry))
        _cli(flows)
        _machines(flows, shares)
        _sealed(flows, entry)
        _exports(flows)
        _register_exports(flows)
    _keep_wal(out)


def _keep_wal(out: Path) -> None:
    """SQLite folds the WAL into the main file when the last connection closes: copy it while it exists."""
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    wal = Path(f"{name}-wal")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        assert wal.exists(), "no WAL file while the database is open"
        (out / "sqlite-wal-copy.bin").write_bytes(wal.read_bytes())


if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handover.settings.local")
    django.setup()
    run(Path(sys.argv[1]))
