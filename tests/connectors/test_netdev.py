"""Huawei/H3C and Cisco configuration backups: accounts, levels, super-users, no verifier kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from handover.connectors.errors import ParseError
from handover.connectors.manifest import REGISTRY
from handover.connectors.model import Inventory, PasswordState
from handover.connectors.netdev import parse_cisco, parse_huawei

HUAWEI = """\
#
aaa
 local-user admin password irreversible-cipher $1a$SECRETHASH1$
 local-user admin privilege level 15
 local-user admin service-type ssh terminal
 local-user monitor password cipher %^%#SECRETHASH2%^%#
 local-user monitor privilege level 1
 local-user olduser privilege level 3
 local-user olduser state block
#
local-user h3cadmin class manage
 password hash $h$6$SECRETHASH3
 service-type ssh
 authorization-attribute user-role network-admin
 authorization-attribute level 3
#
"""

CISCO = """\
hostname core1
enable secret 9 $9$SECRETHASH4
username netops privilege 15 secret 9 $9$SECRETHASH5
username viewer password 7 SECRETHASH6
username guest nopassword
"""


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_huawei_levels_superusers_and_no_verifier(tmp_path: Path) -> None:
    inv = parse_huawei(_write(tmp_path, "sw1.cfg", HUAWEI))
    by_name = {a.name: a for a in inv.accounts}
    assert sorted(by_name) == ["admin", "h3cadmin", "monitor", "olduser"]
    assert by_name["admin"].superuser and by_name["h3cadmin"].superuser and by_name["olduser"].superuser
    assert not by_name["monitor"].superuser
    assert by_name["olduser"].locked and by_name["olduser"].login_allowed is False
    assert by_name["admin"].password_state is PasswordState.SET
    assert dict(by_name["admin"].attributes)["service-type"] == "ssh terminal"
    assert "SECRETHASH" not in repr(inv.accounts)
    (source,) = inv.sources
    assert source.sealed and source.backup and b"SECRETHASH1" in source.content
    line = next(e for e in by_name["admin"].evidence if "password" in e.raw)
    assert line.line == 3 and line.raw.endswith("<verifier>")


def test_cisco_levels_enable_secret_and_no_verifier(tmp_path: Path) -> None:
    inv = parse_cisco(_write(tmp_path, "core1.cfg", CISCO))
    by_name = {a.name: a for a in inv.accounts}
    assert by_name["netops"].superuser and not by_name["viewer"].superuser
    assert by_name["viewer"].privileges[0].name == "privilege level 1"
    assert by_name["guest"].password_state is PasswordState.EMPTY
    assert ("enable secret", "set") in inv.settings
    assert "SECRETHASH" not in repr(inv.accounts) + repr(inv.settings)
    assert inv.sources[0].sealed


def test_gbk_text_is_read(tmp_path: Path) -> None:
    text = "# 核心交换机\naaa\n local-user 张三 privilege level 15\n"
    inv = parse_huawei(_write(tmp_path, "gbk.cfg", text, "gbk"))
    assert inv.accounts[0].name == "张三" and inv.accounts[0].superuser


@pytest.mark.parametrize(
    ("parse", "text", "line"),
    [
        (parse_huawei, "aaa\n local-user a privilege level 1\n local-user b privilege level high\n", 3),
        (parse_huawei, "aaa\n local-user\n", 2),
        (parse_cisco, "username a privilege 1 secret 5 x\nusername b privilege 99 secret 5 y\n", 2),
        (parse_cisco, "hostname x\nusername c secret\n", 2),
    ],
)
def test_bad_line_named_by_file_and_line(
    tmp_path: Path, parse: Callable[[Path], Inventory], text: str, line: int
) -> None:
    path = _write(tmp_path, "bad.cfg", text)
    with pytest.raises(ParseError) as caught:
        parse(path)
    assert caught.value.line == line and caught.value.source == str(path)
    assert f"bad.cfg:{line}" in caught.value.reason_en and f"bad.cfg:{line}" in caught.value.reason_zh


def test_not_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError):
        parse_cisco(_binary(tmp_path))


def _binary(tmp_path: Path) -> Path:
    path = tmp_path / "bin.cfg"
    path.write_bytes(b"\xff\xfe\x81\x00\xff\xff")
    return path


def test_registered() -> None:
    assert REGISTRY["huawei"].offline_kinds == ("huawei",) and REGISTRY["cisco"].parse is parse_cisco
