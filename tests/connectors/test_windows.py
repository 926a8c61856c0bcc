"""Windows `net user` / `net localgroup` outputs, English and Chinese (GBK, CRLF): accounts, Administrators as
super-users, states and dates, bad input named by line. The fixtures are written after the outputs of Windows
Server 2016–2022 (labels as the English and Simplified Chinese editions print them)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from handover.connectors import windows
from handover.connectors.errors import ParseError
from handover.connectors.manifest import REGISTRY
from handover.connectors.model import PasswordState

HERE = Path(__file__).parent / "windows"


def test_registered_offline() -> None:
    assert REGISTRY["windows"].offline_kinds == ("windows",) and REGISTRY["windows"].gather is None


def test_english_outputs() -> None:
    inv = windows.parse(HERE / "net_en.txt")
    names = [a.name for a in inv.accounts]
    assert names == ["Administrator", "alice", "DefaultAccount", "Guest", "svc_backup", "zhangsan"]
    alice = inv.account("alice")
    assert alice.superuser and alice.display_name == "Alice Wang" and alice.login_allowed is True
    assert (
        alice.password_changed == date(2026, 11, 1)
        and alice.password_max_days is None
        and alice.password_policy_known
    )
    assert alice.last_login is not None and alice.last_login.date() == date(2026, 12, 1)
    assert alice.groups == ("Administrators", "Users")
    (right,) = alice.privileges
    assert right.via == "group:Administrators" and right.evidence.line is not None
    guest = inv.account("Guest")
    assert (
        guest.locked
        and guest.login_allowed is False
        and dict(guest.attributes)["password_not_required"] == "yes"
    )
    assert guest.last_login is None and guest.last_login_known
    svc = inv.account("svc_backup")
    assert svc.password_changed == date(2025, 11, 3) and svc.last_login.hour == 17 and not svc.superuser
    # zhangsan is listed and an Administrator, but without its own `net user zhangsan` output: said, kept.
    zhang = inv.account("zhangsan")
    assert zhang.superuser and zhang.password_state is PasswordState.UNKNOWN
    assert any("zhangsan" in w for w in inv.warnings)
    assert dict(inv.settings)["hostname"] == "TRADE01"
    admins = {g.name: g for g in inv.groups}["Administrators"]
    assert admins.privileged and admins.members == ("Administrator", "alice", "zhangsan")


def test_chinese_outputs_in_gbk_with_crlf() -> None:
    inv = windows.parse(HERE / "net_zh_gbk.txt")
    assert [a.name for a in inv.accounts] == ["Administrator", "wangwu", "李四"]
    wang = inv.account("wangwu")
    assert wang.display_name == "王五" and wang.password_expires == date(2027, 2, 18) and not wang.superuser
    li = inv.account("李四")
    assert li.superuser and li.last_login is None and li.last_login_known and li.password_max_days is None
    assert any("GBK" in w for w in inv.warnings)


def test_the_review_sees_a_windows_administrator_and_a_never_expiring_password() -> None:
    from handover.connectors import review
    from handover.connectors.findings import ReviewContext, SystemRef

    inv = windows.parse(HERE / "net_en.txt")
    found = {
        (f.rule, f.account)
        for f in review.review([(SystemRef("OA", "TRADE01"), inv)], ReviewContext(today=date(2026, 12, 5)))
    }
    assert ("superuser_equivalent", "alice") in found and ("password_never_expires", "alice") in found
    assert ("ad_password_not_required", "svc_backup") in found
    assert ("superuser_equivalent", "Administrator") not in found  # the platform's own


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("hello world\n", 1, "不是 net user"),
        ("User name                    bob\nLast logon                   yesterday\n", 2, "不是日期时间"),
        ("User name                    bob\nUser name                    BOB\n", 2, "出现了两次"),
        ("User name\n", 1, "缺少名称"),
        ("", None, "未找到账户"),
    ],
)
def test_bad_input_is_refused_naming_the_line(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    path = tmp_path / "net.txt"
    path.write_text(text)
    with pytest.raises(ParseError) as caught:
        windows.parse(path)
    assert (
        caught.value.line == line and words in caught.value.reason_zh and "net.txt" in caught.value.reason_zh
    )


def test_a_file_too_large_or_unreadable_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handover.connectors import ad, ldap, operators, oracle

    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2048)
    for module in (windows, ad, ldap, operators, oracle):
        monkeypatch.setattr(module, "MAX_FILE_BYTES", 1 << 10)
        with pytest.raises(ParseError) as caught:
            module.parse(big)
        assert caught.value.source == "big.txt" and "超过" in caught.value.reason_zh
    with pytest.raises(ParseError) as caught:
        windows.parse(tmp_path / "missing.txt")
    assert "无法读取" in caught.value.reason_zh and "missing.txt" in caught.value.reason_zh
