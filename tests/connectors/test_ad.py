"""Active Directory from an LDIF export: userAccountControl bits, FILETIMEs, groups followed to the end, the
privileged groups as super-users. Fixtures written from Microsoft's documented attribute formats (MS-ADTS:
userAccountControl flags, FILETIME intervals since 1601, accountExpires 0 / 2^63-1 meaning never); no Samba AD
DC was provisioned here."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from handover.connectors import ad, review
from handover.connectors.errors import ParseError
from handover.connectors.findings import Person, ReviewContext, SystemRef
from handover.connectors.model import PasswordState
from handover.connectors.serial import inventory_dumps

BASE = "DC=firm,DC=cn"


def ft(moment: datetime) -> int:
    return int((moment - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10_000_000)


LDIF = f"""dn: CN=Domain Admins,CN=Users,{BASE}
objectClass: top
objectClass: group
cn: Domain Admins
sAMAccountName: Domain Admins
member: CN=IT Ops,OU=Groups,{BASE}
member: CN=Administrator,CN=Users,{BASE}

dn: CN=IT Ops,OU=Groups,{BASE}
objectClass: top
objectClass: group
cn: IT Ops
sAMAccountName: IT Ops
member: CN=Wang Wu,OU=Staff,{BASE}

dn: CN=Print Operators,CN=Builtin,{BASE}
objectClass: group
cn: Print Operators
sAMAccountName: Print Operators
member: CN=Li Si,OU=Staff,{BASE}

dn: CN=Administrator,CN=Users,{BASE}
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: Administrator
sAMAccountName: Administrator
userAccountControl: 66048
pwdLastSet: {ft(datetime(2024, 5, 1, tzinfo=UTC))}
lastLogonTimestamp: {ft(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))}
accountExpires: 9223372036854775807
adminCount: 1

dn: CN=Wang Wu,OU=Staff,{BASE}
objectClass: user
cn: Wang Wu
displayName:: 546L5LqU
sAMAccountName: wangwu
mail: wangwu@firm.cn
userAccountControl: 512
pwdLastSet: {ft(datetime(2026, 11, 20, tzinfo=UTC))}
lastLogonTimestamp: {ft(datetime(2026, 12, 3, tzinfo=UTC))}
accountExpires: 0
memberOf: CN=IT Ops,OU=Groups,{BASE}

dn: CN=Zhang San,OU=Staff,{BASE}
objectClass: user
cn: Zhang San
displayName:: 5byg5LiJ
sAMAccountName: zhangsan
userAccountControl: 544
pwdLastSet: 0
lastLogonTimestamp: {ft(datetime(2026, 8, 30, tzinfo=UTC))}
accountExpires: {ft(datetime(2026, 9, 1, tzinfo=UTC))}

dn: CN=Li Si,OU=Staff,{BASE}
objectClass: user
cn: Li Si
sAMAccountName: lisi
userAccountControl: 514
pwdLastSet: {ft(datetime(2025, 1, 1, tzinfo=UTC))}

dn: CN=TRADE01,OU=Servers,{BASE}
objectClass: user
objectClass: computer
cn: TRADE01
sAMAccountName: TRADE01$
userAccountControl: 4096
"""


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "ad.ldif"
    path.write_text(LDIF)
    return path


def test_users_flags_and_filetimes(export: Path) -> None:
    inv = ad.parse(export)
    assert [a.name for a in inv.accounts] == [
        "Administrator",
        "lisi",
        "wangwu",
        "zhangsan",
    ]  # not the computer
    admin = inv.account("Administrator")
    assert "DONT_EXPIRE_PASSWORD" in dict(admin.attributes)["useraccountcontrol_flags"]
    assert admin.password_policy_known and admin.password_max_days is None and admin.account_expires is None
    assert admin.password_changed == date(2024, 5, 1) and admin.last_login.date() == date(2026, 12, 1)
    wang = inv.account("wangwu")
    assert wang.display_name == "王五" and wang.login_allowed and not wang.password_policy_known
    zhang = inv.account("zhangsan")
    assert (
        dict(zhang.attributes)["password_not_required"] == "yes"
        and zhang.password_state is PasswordState.EMPTY
    )
    assert zhang.account_expires == date(2026, 9, 1)
    li = inv.account("lisi")
    assert li.locked and not li.login_allowed and li.password_state is PasswordState.DISABLED
    (source,) = inv.sources
    assert source.sealed and source.backup


def test_membership_is_followed_to_the_end(export: Path) -> None:
    inv = ad.parse(export)
    wang = inv.account("wangwu")
    (right,) = [p for p in wang.privileges if p.name == "Domain Admins"]
    assert right.superuser and right.via == "group:IT Ops,group:Domain Admins"
    assert set(wang.groups) == {"IT Ops", "Domain Admins"}
    li = inv.account("lisi")
    assert [(p.name, p.superuser) for p in li.privileges] == [("Print Operators", False)]
    groups = {g.name: g for g in inv.groups}
    assert (
        groups["Domain Admins"].members == ("Administrator", "wangwu") and groups["Domain Admins"].privileged
    )


def test_the_review_of_an_ad_export(export: Path) -> None:
    inv = ad.parse(export)
    context = ReviewContext(today=date(2026, 12, 5), disposal_day=date(2026, 12, 1),
                            people=(Person("张三", left_on=date(2026, 9, 1)),))  # fmt: skip
    found = {(f.rule, f.account) for f in review.review([(SystemRef("域控", "dc01"), inv)], context)}
    assert ("ad_privileged_group", "wangwu") in found and ("superuser_equivalent", "wangwu") in found
    assert ("ad_password_not_required", "zhangsan") in found and ("departed_staff", "zhangsan") in found
    assert ("ad_privileged_group", "Administrator") not in found  # the domain's own administrator


def test_a_utf16_export_as_ldifde_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "ldifde.ldf"
    path.write_bytes(LDIF.replace("\n", "\r\n").encode("utf-16"))
    assert inventory_dumps(ad.parse(path)).count(b"wangwu") >= 1


@pytest.mark.parametrize(
    ("replace", "line", "words"),
    [
        (("userAccountControl: 512", "userAccountControl: lots"), 41, "不是数值"),
        (("accountExpires: 0", "accountExpires: soon"), 44, "FILETIME"),
    ],
)
def test_bad_values_are_named_by_line(
    tmp_path: Path, replace: tuple[str, str], line: int, words: str
) -> None:
    path = tmp_path / "ad.ldif"
    path.write_text(LDIF.replace(*replace))
    with pytest.raises(ParseError) as caught:
        ad.parse(path)
    assert caught.value.line == line and words in caught.value.reason_zh


def test_an_export_without_users_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "groups.ldif"
    path.write_text(LDIF.split("dn: CN=Administrator")[0])
    with pytest.raises(ParseError, match="not an AD export"):
        ad.parse(path)


def test_binary_values_of_an_export_are_read_not_refused(tmp_path: Path) -> None:
    """ldifde and ldapsearch write objectSid, objectGUID and photos as base64 of binary: read as Windows
    writes SIDs and GUIDs, other binary kept as base64 text, never a 'bad base64' refusal."""
    import base64

    sid = bytes([1, 5, 0, 0, 0, 0, 0, 5]) + b"".join(n.to_bytes(4, "little") for n in (21, 1, 2, 3, 1104))
    guid = bytes(range(16))
    photo = b"\xff\xd8\xff\xe0binary"
    text = (
        "dn: CN=w,CN=Users,DC=x\nobjectClass: user\nsAMAccountName: w\n"
        f"objectSid:: {base64.b64encode(sid).decode()}\nobjectGUID:: {base64.b64encode(guid).decode()}\n"
        f"thumbnailPhoto:: {base64.b64encode(photo).decode()}\n"
    )
    path = tmp_path / "w.ldif"
    path.write_text(text)
    (account,) = ad.parse(path).accounts
    assert account.uid == "S-1-5-21-1-2-3-1104"
    from handover.connectors import ldif

    assert ldif.text_of("objectGUID", guid) == "03020100-0504-0706-0809-0a0b0c0d0e0f"
    assert ldif.text_of("thumbnailPhoto", photo).startswith("base64:")
