"""Active Directory live: Debian's Samba AD DC provisioned by the test in a temporary folder (about 6 s here),
serving LDAP/LDAPS only on a loopback address of its own (127.0.0.x, so that the SQLite and PostgreSQL passes,
running side by side, never meet), with users made by ``samba-tool``. The offline twin is an ``ldapsearch``
export of the same domain (binary objectSid as base64, as a real export has it)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from handover.connectors import ad, review
from handover.connectors.errors import GatherError, Status
from handover.connectors.findings import Person, ReviewContext, SystemRef
from handover.connectors.manifest import Credential, Target
from handover.connectors.model import Inventory
from handover.connectors.serial import inventory_dumps

CANARY = "Canary-AD-7f3e!Qx"  # the Administrator's password
BASE = "DC=handover,DC=test"
ADMIN = "Administrator@handover.test"


@dataclass
class Domain:
    root: Path
    address: str
    log: Path


def _free_address() -> str:
    for last in range(20 + os.getpid() % 200, 255):
        address = f"127.0.0.{last}"
        with socket.socket() as sock:
            if sock.connect_ex((address, 636)) != 0 and sock.connect_ex((address, 389)) != 0:
                return address
    pytest.skip("no free loopback address for a domain controller")


def _tool(root: Path, *args: str) -> None:
    subprocess.run(["samba-tool", *args, "-s", str(root / "etc/smb.conf")], check=True, capture_output=True)


@pytest.fixture(scope="module")
def domain() -> Iterator[Domain]:
    if os.geteuid() != 0 or not shutil.which("samba-tool") or not shutil.which("samba"):
        pytest.skip("Samba AD DC is not installed (Debian: samba samba-ad-dc; `make test` installs them)")
    root = Path(tempfile.mkdtemp(prefix="handover-samba-"))
    address = _free_address()
    provision = subprocess.run(
        ["samba-tool", "domain", "provision", "--realm=HANDOVER.TEST", "--domain=HANDOVER",
         "--server-role=dc", "--dns-backend=NONE", f"--adminpass={CANARY}", f"--targetdir={root}",
         "--host-name=dc1", f"--option=interfaces={address}/8", "--option=bind interfaces only=yes",
         "--option=server services = ldap", f"--option=pid directory = {root}",
         f"--option=log file = {root}/log.%m"],
        capture_output=True, text=True,
    )  # fmt: skip
    if provision.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip("Samba AD DC did not provision here: " + provision.stderr[-500:])
    # A DC accepts the old password for "old password allowed period" (60 minutes) after a change; 0 here so
    # that the rotation test can see the old one refused (provision does not write this option: appended).
    conf = root / "etc/smb.conf"
    conf.write_text(
        conf.read_text().replace("[global]\n", "[global]\n\told password allowed period = 0\n", 1)
    )
    # 第二十五条第3项's departed person, nested in Domain Admins through IT Ops; a batch account whose password
    # never expires; a disabled one.
    _tool(root, "user", "create", "zhangsan", "Zs-pass-123!x", "--given-name=三", "--surname=张",
          "--mail-address=zhang.san@firm.test")  # fmt: skip
    _tool(root, "user", "create", "svc_batch", "Svc-pass-456!y", "--description=nightly clearing job")
    _tool(root, "user", "setexpiry", "svc_batch", "--noexpiry")
    _tool(root, "user", "create", "lisi", "Ls-pass-789!z")
    _tool(root, "user", "disable", "lisi")
    _tool(root, "group", "add", "IT Ops")
    _tool(root, "group", "addmembers", "Domain Admins", "IT Ops")
    _tool(root, "group", "addmembers", "IT Ops", "zhangsan")
    log = root / "samba.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["samba", "-s", str(root / "etc/smb.conf"), "-i", "-M", "single", "--debug-stdout", "-d", "3"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        for _ in range(600):
            with socket.socket() as sock:
                if sock.connect_ex((address, 636)) == 0:
                    break
            if process.poll() is not None:
                pytest.fail("samba did not start: " + log.read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        yield Domain(root, address, log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        shutil.rmtree(root, ignore_errors=True)


def _gather(
    dc: Domain, user: str = ADMIN, secret: str = CANARY, port: int = 636, **options: str
) -> Inventory:
    target = Target(dc.address, port, timeout=20.0, options=tuple(sorted(options.items())))
    return asyncio.run(ad.gather(target, Credential(user, secret)))


@pytest.fixture(scope="module")
def live(domain: Domain) -> Inventory:
    return _gather(domain)


def test_users_nested_admins_flags_and_sids(live: Inventory) -> None:
    by = {a.name: a for a in live.accounts}
    assert {"Administrator", "zhangsan", "svc_batch", "lisi", "krbtgt", "Guest"} <= set(by)
    zs = by["zhangsan"]
    assert zs.superuser and zs.display_name and zs.email == "zhang.san@firm.test"
    chain = {p.name: p.via for p in zs.privileges}
    assert chain["Domain Admins"] == "group:IT Ops,group:Domain Admins"
    assert "DONT_EXPIRE_PASSWORD" in dict(by["svc_batch"].attributes)["useraccountcontrol_flags"]
    assert not by["lisi"].login_allowed and by["lisi"].locked
    assert by["Administrator"].superuser and dict(by["Administrator"].attributes)["admincount"] == "1"
    assert all(a.uid.startswith("S-1-5-21-") for a in by.values())
    assert zs.password_changed is not None and zs.password_state.value == "set"
    assert not any(a.name.endswith("$") for a in live.accounts)  # the DC's computer account is not a user
    assert live.sources[0].sealed and live.sources[0].backup  # the LDIF read is 表8's backup, sealed
    assert any("not verified" in w for w in live.warnings)  # no tls_ca: the certificate was not checked


def test_the_review_finds_the_departed_admin_and_the_never_expiring_batch(live: Inventory) -> None:
    context = ReviewContext(today=date.today(), disposal_day=date.today(),
                            people=(Person("张三", left_on=date(2026, 10, 1)),))  # fmt: skip
    found = {(f.rule, f.account) for f in review.review([(SystemRef("域控", "dc1"), live)], context)}
    assert ("departed_staff", "zhangsan") in found
    assert ("superuser_equivalent", "zhangsan") in found
    assert ("password_never_expires", "svc_batch") in found
    assert ("departed_staff", "svc_batch") not in found


def test_an_ldapsearch_export_gives_the_same_accounts(
    domain: Domain, live: Inventory, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text(CANARY)  # -y: the password from a file, never in a process argument
    export = subprocess.run(
        ["ldapsearch", "-LLL", "-H", f"ldaps://{domain.address}", "-D", ADMIN, "-y", str(secret), "-b", BASE,
         f"(|{ad.USERS}{ad.GROUPS})", *ad.USER_ATTRIBUTES, "member", "groupType"],
        capture_output=True, env={**os.environ, "LDAPTLS_REQCERT": "never"}, check=True,
    )  # fmt: skip
    assert b"objectSid::" in export.stdout  # binary, base64 in the export
    path = tmp_path / "domain.ldif"
    path.write_bytes(export.stdout)
    offline = ad.parse(path)

    def facts(inv: Inventory) -> list[tuple]:  # type: ignore[type-arg]
        return [
            (
                a.name,
                a.uid,
                a.superuser,
                a.locked,
                a.groups,
                a.password_changed,
                a.attributes,
                tuple((p.name, p.via, p.superuser) for p in a.privileges),
            )
            for a in inv.accounts
        ]

    assert facts(offline) == facts(live)


def test_a_wrong_password_is_auth_failed_and_the_canary_is_nowhere(
    domain: Domain, live: Inventory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = CANARY + "-wrong"
    with pytest.raises(GatherError) as caught:
        _gather(domain, secret=wrong)
    assert caught.value.status is Status.AUTH_FAILED and "凭据无效" in caught.value.reason_zh
    log = domain.log.read_text(errors="replace")
    assert "ldapsrv" in log or "LDAP" in log  # the server logged the connections at level 3
    for text in (log, caplog.text, str(caught.value), caught.value.reason_zh, inventory_dumps(live).decode()):
        assert CANARY not in text and wrong not in text


def test_a_plain_bind_is_refused_with_the_way_to_ldaps(domain: Domain) -> None:
    with pytest.raises(GatherError) as caught:
        _gather(domain, port=389, ssl="none")
    assert caught.value.status is Status.REFUSED and "LDAPS" in caught.value.reason_zh


def test_disable_sets_uac_bit_2_and_the_restore_brings_back_exactly_what_was(domain: Domain) -> None:
    """停用 on AD (第二十六条第3项 A): userAccountControl's ACCOUNTDISABLE set over LDAPS, no bind then; E03's restore
    (第二十八条第3项) writes back the value read before, so an account disabled already (lisi) stays so."""
    from handover.connectors.change import ldap_password

    changer = ldap_password.ACTIVE_DIRECTORY
    where, admin = Target(domain.address, 636, timeout=20.0), Credential(ADMIN, CANARY)

    def logs_in() -> bool:
        return asyncio.run(changer.login_works(where, "svc_batch", "Svc-pass-456!y", admin=admin))

    before = asyncio.run(changer.lock_state(where, admin, "svc_batch"))
    assert not changer.disabled(before) and logs_in()
    asyncio.run(changer.disable(where, admin, "svc_batch"))
    assert changer.disabled(asyncio.run(changer.lock_state(where, admin, "svc_batch"))) and not logs_in()
    asyncio.run(changer.enable(where, admin, "svc_batch", before))
    assert asyncio.run(changer.lock_state(where, admin, "svc_batch")) == before and logs_in()
    was = asyncio.run(changer.lock_state(where, admin, "lisi"))
    assert changer.disabled(was)
    asyncio.run(changer.disable(where, admin, "lisi"))
    asyncio.run(changer.enable(where, admin, "lisi", was))
    assert asyncio.run(changer.lock_state(where, admin, "lisi")) == was
    assert CANARY not in domain.log.read_text(errors="replace")


def test_a_nested_domain_admin_is_rotated_over_ldaps_and_proven(  # runs last: it changes zhangsan's password
    domain: Domain, world, settings, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15 on AD: unicodePwd replaced over LDAPS by a second person's approved plan, proven by a bind."""
    import json

    from handover.audit.models import Event
    from handover.connectors.change import ldap_password as changer
    from handover.core.actors import system
    from handover.org.models import Role
    from handover.registers.models import Account
    from handover.rotation import services as rotation
    from handover.rotation.models import ItemState, RotationItem
    from handover.vault import services as vault
    from handover.vault.models import SecretKind, VerifyResult
    from tests.connectors.scenes import target_scene
    from tests.connectors.test_rotation_ldap import _current

    caplog.set_level(logging.DEBUG)
    tech, target = target_scene(world, settings, tmp_path, connector="ad", name="域控", host="dc1", port=636,
                          login=ADMIN, secret=CANARY, options={"address": domain.address})  # fmt: skip
    zhangsan = Account.objects.get(login_name="zhangsan", asset=target.asset)
    vault.secret_capture(
        actor=system("test"), account=zhangsan, secret="Zs-pass-123!x", kind=SecretKind.ORIGINAL
    )
    where, admin = Target(domain.address, 636, timeout=20.0), Credential(ADMIN, CANARY)
    before = asyncio.run(changer.snapshot(where, admin, "zhangsan", ad=True))
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    assert list(plan.items.values_list("login_name", flat=True)) == [
        "zhangsan"
    ]  # the entry of Administrator is
    # on the account "Administrator@handover.test", not the inventory's "Administrator": not planned
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    rotation.plan_run(plan_id=plan.pk)
    item = RotationItem.objects.get(plan=plan)
    assert (item.state, item.outcome) == (ItemState.DONE, VerifyResult.SUCCESS), item.reason
    new = _current("zhangsan")
    assert asyncio.run(changer.login_works(where, "zhangsan", new, ad=True, admin=admin))
    assert not asyncio.run(changer.login_works(where, "zhangsan", "Zs-pass-123!x", ad=True, admin=admin))
    assert asyncio.run(changer.snapshot(where, admin, "zhangsan", ad=True)) == before
    texts = [domain.log.read_text(errors="replace"), caplog.text,
             json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str)]  # fmt: skip
    for secret in (new, CANARY):
        assert [i for i, text in enumerate(texts) if secret in text] == [], secret
