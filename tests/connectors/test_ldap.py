"""The LDAP connector against a real OpenLDAP slapd of our own (slapadd'ed cn=config with the ppolicy overlay,
its own database folder, a free loopback port, stats logging), and its offline parse of LDIF exports."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from handover.connectors import ldap
from handover.connectors.errors import GatherError, ParseError, Status
from handover.connectors.manifest import REGISTRY, Credential, Target
from handover.connectors.model import Inventory, PasswordState
from handover.connectors.serial import inventory_dumps
from tests.connectors.ports import refused_port
from tests.connectors.slapd_server import Slapd, slapd_server, ssha

CANARY = "Canary-ldap-3b9e71c4"  # the bind password: never in slapd's log, ours, errors or the inventory
SUFFIX = "dc=firm,dc=cn"
ADMIN = f"cn=admin,{SUFFIX}"
CLEARTEXT = "Plain-pw-lisi-1"


DATA = f"""dn: {SUFFIX}
objectClass: top
objectClass: dcObject
objectClass: organization
o: firm
dc: firm

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: uid=zhangsan,ou=people,{SUFFIX}
objectClass: inetOrgPerson
objectClass: posixAccount
objectClass: shadowAccount
uid: zhangsan
cn: 张三
sn: 张
mail: zhangsan@firm.cn
uidNumber: 1001
gidNumber: 1001
homeDirectory: /home/zhangsan
loginShell: /bin/bash
userPassword: {ssha("Pw-zs-1")}
pwdAccountLockedTime: 000001010000Z
pwdChangedTime: 20260101000000Z

dn: uid=lisi,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: lisi
cn: 李四
sn: 李
userPassword: {CLEARTEXT}

dn: uid=wangwu,ou=people,{SUFFIX}
objectClass: inetOrgPerson
objectClass: posixAccount
objectClass: shadowAccount
uid: wangwu
cn: 王五
sn: 王
uidNumber: 1003
gidNumber: 1003
homeDirectory: /home/wangwu
userPassword: {ssha("Pw-ww-1")}
shadowLastChange: 20400
shadowMax: 99999

dn: uid=ops,ou=people,{SUFFIX}
objectClass: account
objectClass: posixAccount
uid: ops
cn: ops
uidNumber: 1004
gidNumber: 10
homeDirectory: /home/ops
userPassword: {ssha("Pw-ops-1")}

dn: uid=reader,ou=people,{SUFFIX}
objectClass: account
objectClass: simpleSecurityObject
uid: reader
userPassword: {ssha("Reader-pw-1")}

dn: cn=admins,{SUFFIX}
objectClass: groupOfNames
cn: admins
member: uid=wangwu,ou=people,{SUFFIX}

dn: cn=wheel,{SUFFIX}
objectClass: posixGroup
cn: wheel
gidNumber: 10
memberUid: ops

dn: cn=auditors,{SUFFIX}
objectClass: groupOfUniqueNames
cn: auditors
uniqueMember: uid=lisi,ou=people,{SUFFIX}
"""


@pytest.fixture(scope="module")
def slapd() -> Iterator[Slapd]:
    with slapd_server(suffix=SUFFIX, admin=ADMIN, password=CANARY, data=DATA) as found:
        yield found


def _gather(
    server: Slapd, user: str = ADMIN, secret: str = CANARY, port: int | None = None, **options: str
) -> Inventory:
    opts = {"base": SUFFIX, **options}
    target = Target("127.0.0.1", port or server.port, timeout=10.0, options=tuple(sorted(opts.items())))
    return asyncio.run(ldap.gather(target, Credential(user, secret)))


@pytest.fixture(scope="module")
def live(slapd: Slapd) -> Inventory:
    return _gather(slapd)


def test_registered() -> None:
    manifest = REGISTRY["ldap"]
    assert (
        manifest.offline_kinds == ("ldif",)
        and manifest.default_port == 389
        and manifest.gather is ldap.gather
    )


def test_users_groups_policy_state_and_super_users(live: Inventory) -> None:
    assert [a.name for a in live.accounts] == ["lisi", "ops", "reader", "wangwu", "zhangsan"]
    zhang = live.account("zhangsan")
    assert zhang.locked and not zhang.login_allowed and zhang.password_changed == date(2026, 1, 1)
    assert (
        zhang.display_name == "张三"
        and zhang.email == "zhangsan@firm.cn"
        and dict(zhang.attributes)["password_scheme"] == "SSHA"
    )
    lisi = live.account("lisi")
    assert dict(lisi.attributes)["password_scheme"] == "cleartext" and lisi.groups == ("auditors",)
    wang = live.account("wangwu")
    assert wang.superuser and wang.privileges[0].via == "group:admins" and wang.password_max_days is None
    assert wang.password_policy_known and wang.password_changed == date(2025, 11, 8)  # shadowLastChange 20400
    ops = live.account("ops")
    assert ops.superuser and ops.groups == ("wheel",)
    groups = {g.name: g for g in live.groups}
    assert (
        groups["admins"].privileged
        and groups["wheel"].members == ("ops",)
        and not groups["auditors"].privileged
    )


def test_the_backup_is_sealed_and_no_password_is_in_the_clear(live: Inventory) -> None:
    (source,) = live.sources
    assert source.sealed and source.backup and source.name == "directory.ldif"
    body = inventory_dumps(live).decode()
    assert CLEARTEXT in source.content.decode() and ssha("Pw-ww-1") in source.content.decode()
    assert CLEARTEXT not in body and ssha("Pw-ww-1") not in body and "userPassword: <verifier>" in body


def test_live_and_offline_of_its_ldif_give_the_same_inventory(live: Inventory, tmp_path: Path) -> None:
    path = tmp_path / "directory.ldif"
    path.write_bytes(live.sources[0].content)
    offline = ldap.parse(path)
    same = {"target": "", "gathered_at": datetime(2000, 1, 1, tzinfo=UTC)}
    assert inventory_dumps(dataclasses.replace(offline, **same)) == inventory_dumps(
        dataclasses.replace(live, **same)
    )


def test_a_slapcat_export_gives_the_same_accounts(slapd: Slapd, live: Inventory, tmp_path: Path) -> None:
    out = subprocess.run(
        ["slapcat", "-F", str(slapd.root / "conf"), "-n", "1"], check=True, capture_output=True
    ).stdout
    path = tmp_path / "slapcat.ldif"
    path.write_bytes(out)
    offline = ldap.parse(path)

    def facts(inv: Inventory) -> list[tuple]:  # type: ignore[type-arg]
        return [
            (a.name, a.superuser, a.locked, a.password_state, a.groups, a.password_changed)
            for a in inv.accounts
        ]

    assert facts(offline) == facts(live)


def test_a_wrong_password_is_auth_failed_and_the_canary_is_nowhere(
    slapd: Slapd, live: Inventory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = CANARY + "-wrong"
    with pytest.raises(GatherError) as caught:
        _gather(slapd, secret=wrong)
    assert caught.value.status is Status.AUTH_FAILED and "凭据无效" in caught.value.reason_zh
    log = slapd.log.read_text(errors="replace")
    assert "BIND" in log and "SRCH" in log  # the server did log the binds and searches
    for text in (log, caplog.text, str(caught.value), caught.value.reason_zh, inventory_dumps(live).decode()):
        assert CANARY not in text and wrong not in text


def test_an_unreachable_server_is_named(slapd: Slapd) -> None:
    with refused_port() as port, pytest.raises(GatherError) as caught:
        _gather(slapd, port=port)
    assert caught.value.status is Status.UNREACHABLE and f"127.0.0.1:{port}" in caught.value.reason_zh


def test_the_review_flags_the_cleartext_password_and_the_group_admin(live: Inventory) -> None:
    from handover.connectors import review
    from handover.connectors.findings import Person, ReviewContext, SystemRef

    context = ReviewContext(today=date(2026, 12, 5), disposal_day=date(2026, 12, 1),
                            people=(Person("张三", left_on=date(2026, 10, 1)),))  # fmt: skip
    found = {(f.rule, f.account) for f in review.review([(SystemRef("统一认证", "ldap01"), live)], context)}
    assert ("ldap_cleartext_password", "lisi") in found and ("superuser_equivalent", "wangwu") in found
    assert ("departed_staff", "zhangsan") in found


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("dn: uid=a,dc=x\nnot a line\n", 2, "不是 LDIF 行"),
        ("uid: a\n", 1, "之前"),
        ("dn: uid=a,dc=x\nchangetype: add\n", 2, "变更记录"),
        ("dn: uid=a,dc=x\ncn:: !!!\n", 2, "base64"),
        ("dn: uid=a,dc=x\nobjectClass: account\ndn: uid=b,dc=x\n", 3, "缺少空行"),
        ("# only a comment\n", None, "没有任何条目"),
    ],
)
def test_bad_ldif_is_refused_naming_the_line(tmp_path: Path, text: str, line: int | None, words: str) -> None:
    path = tmp_path / "bad.ldif"
    path.write_text(text)
    with pytest.raises(ParseError) as caught:
        ldap.parse(path)
    assert caught.value.line == line and words in caught.value.reason_zh


def test_an_exported_ldif_with_last_binds_and_folded_lines(tmp_path: Path) -> None:
    text = (
        "version: 1\n\ndn: uid=zhao,ou=people,dc=firm,dc=cn\nobjectClass: inetOrgPerson\nuid: zhao\ncn: Zhao\n"
        " Liu\nsn: Zhao\nuserPassword:: e1NTSEF9YWJj\npwdLastSuccess: 20261130080000Z\n"
    )
    path = tmp_path / "export.ldif"
    path.write_text(text)
    inv = ldap.parse(path)
    (zhao,) = inv.accounts
    assert (
        zhao.display_name == "ZhaoLiu"
        and zhao.last_login_known
        and zhao.last_login.date() == date(2026, 11, 30)
    )
    assert dict(zhao.attributes)["password_scheme"] == "SSHA"
    assert zhao.password_state is PasswordState.SET and os.sep not in zhao.name


def test_a_server_that_is_not_ldap_is_refused_not_a_crash(slapd: Slapd) -> None:
    import threading

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"\x30\x05\x02\x01\x01\x60\x00")  # a message no LDAP server sends back

        worker = threading.Thread(target=answer, daemon=True)
        worker.start()
        with pytest.raises(GatherError) as caught:
            _gather(slapd, port=port)
        worker.join(10)
    assert caught.value.status in (Status.REFUSED, Status.UNREACHABLE)
    assert f"127.0.0.1:{port}" in caught.value.reason_zh and caught.value.__cause__ is None
