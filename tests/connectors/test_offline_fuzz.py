"""Hypothesis on every connector's offline file (issue 18): any mutation of a valid file given to
`handover discovery import --kind K` is an inventory or a ParseError naming the file (and the line when one is
at fault), never another exception. The Linux collect stream has its own properties in test_linux_parse.py."""

from __future__ import annotations

import io
import tempfile
from datetime import UTC
from pathlib import Path

import openpyxl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from handover.connectors import ad, ldap, mariadb, netdev, operators, oracle, postgresql, windows
from handover.connectors.errors import GatherError, ParseError
from handover.connectors.manifest import REGISTRY
from handover.connectors.model import Inventory
from tests.connectors import test_ad, test_mariadb, test_netdev, test_operators, test_postgresql
from tests.fuzzing import damaged_deflate, fuzz_settings, mutated

WINDOWS = Path(__file__).parent / "windows"

ORACLE = """SQL> @oracle_collect.sql
HANDOVER|version|19.0.0.0.0
HANDOVER|users|SYSTEM|OPEN|||DEFAULT|PASSWORD|2020-01-01 00:00:00
HANDOVER|users|APP|EXPIRED & LOCKED|2026-11-01 10:00:00|2026-11-01 10:00:00|DEFAULT|PASSWORD|2021-02-03 04:05:06
HANDOVER|last_login|APP|2026-11-30 09:00:00 +08:00
HANDOVER|maintained|SYSTEM|Y
HANDOVER|maintained|APP|N
HANDOVER|password_changed|APP|2026-06-01 00:00:00
HANDOVER|role_privs|APP|DBA|NO
HANDOVER|sys_privs|APP|CREATE SESSION|NO
HANDOVER|pwfile|SYSTEM|TRUE|FALSE
HANDOVER|profiles|DEFAULT|PASSWORD_LIFE_TIME|180
HANDOVER|done|ok
SQL> EXIT
"""

LDIF = """version: 1

dn: uid=zhao,ou=people,dc=firm,dc=cn
objectClass: inetOrgPerson
uid: zhao
cn: Zhao
 Liu
sn: Zhao
userPassword:: e1NTSEF9YWJj
pwdLastSuccess: 20261130080000Z

dn: cn=admins,ou=groups,dc=firm,dc=cn
objectClass: groupOfNames
cn: admins
member: uid=zhao,ou=people,dc=firm,dc=cn
"""


def _operators_xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for line in test_operators.CSV.splitlines():
        sheet.append(line.split(","))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# kind → (its parse, the file's name, a valid file)
SEEDS = {
    "windows-en": (windows.parse, "net.txt", (WINDOWS / "net_en.txt").read_bytes()),
    "windows-zh": (windows.parse, "net.txt", (WINDOWS / "net_zh_gbk.txt").read_bytes()),
    "huawei": (netdev.parse_huawei, "sw1.cfg", test_netdev.HUAWEI.encode()),
    "cisco": (netdev.parse_cisco, "core1.cfg", test_netdev.CISCO.encode()),
    "operators-csv": (operators.parse, "柜员清单.csv", test_operators.CSV.encode("gbk")),
    "operators-xlsx": (operators.parse, "柜员清单.xlsx", _operators_xlsx()),
    "oracle-spool": (oracle.parse, "handover_oracle.lst", ORACLE.encode()),
    "ldif": (ldap.parse, "export.ldif", LDIF.encode()),
    "ad-ldif": (ad.parse, "ad.ldif", test_ad.LDIF.encode()),
    "pg-roles": (postgresql.parse, "roles.sql", test_postgresql.PG16.encode()),
    "mysql-grants": (mariadb.parse, "grants.sql", test_mariadb.MYSQL8.encode()),
}


def test_every_offline_kind_has_a_seed_that_parses() -> None:
    """The seeds are valid (else the property would only fuzz refusals), and no offline parser is left out."""
    covered = {parse for parse, _name, _seed in SEEDS.values()}
    offline = {m.parse for m in REGISTRY.values() if m.parse is not None and m.code != "linux"}
    assert offline <= covered, offline - covered
    with tempfile.TemporaryDirectory() as folder:
        for kind, (parse, name, seed) in SEEDS.items():
            path = Path(folder) / name
            path.write_bytes(seed)
            inventory = parse(path)
            assert isinstance(inventory, Inventory) and inventory.accounts, kind


def _outcome(parse, name: str, content: bytes) -> None:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            assert isinstance(parse(path), Inventory)
        except ParseError as refused:
            assert name in refused.reason_en and name in refused.reason_zh, refused.reason_en
            assert refused.line is None or refused.line >= 1
        except GatherError as refused:  # an offline file refused as a whole (e.g. not this kind of file)
            assert name in refused.reason_en, refused.reason_en


@pytest.mark.parametrize("kind", sorted(SEEDS))
@fuzz_settings()
@given(data=st.data())
def test_a_mutated_offline_file_is_an_inventory_or_a_refusal_naming_it(
    kind: str, data: st.DataObject
) -> None:
    parse, name, seed = SEEDS[kind]
    _outcome(parse, name, data.draw(mutated(seed)))


@fuzz_settings(scale=2)
@given(kind=st.sampled_from(sorted(SEEDS)), blob=st.binary(max_size=400))
@example(kind="oracle-spool", blob=b"HANDOVER|")
def test_any_bytes_are_an_inventory_or_a_refusal_naming_the_file(kind: str, blob: bytes) -> None:
    parse, name, _seed = SEEDS[kind]
    _outcome(parse, name, blob)


def test_an_xlsx_whose_sheet_does_not_inflate_is_refused_naming_the_file(tmp_path: Path) -> None:
    """Found by the property above: openpyxl's read-only sheet raised zlib.error out of operators.parse."""
    path = tmp_path / "柜员清单.xlsx"
    path.write_bytes(damaged_deflate(_operators_xlsx(), "xl/worksheets/sheet1.xml"))
    with pytest.raises(ParseError) as refused:
        operators.parse(path)
    assert "柜员清单.xlsx" in refused.value.reason_zh and "xlsx" in refused.value.reason_en


@pytest.mark.parametrize(
    ("tail", "line"),
    [("\r0004,赵六,柜员,正常,甲营业部,,\n", None), ('0004,"赵六' + "x" * 140_000 + '",柜员\n', 5)],
)
def test_an_operators_csv_with_a_lone_cr_or_an_overlong_field(
    tmp_path: Path, tail: str, line: int | None
) -> None:
    """Found by the property above: a lone CR raised csv.Error out of operators.parse; a field past the csv
    module's limit (131,072 characters) is refused naming its line."""
    path = tmp_path / "柜员清单.csv"
    path.write_bytes((test_operators.CSV + tail).encode("gbk"))
    if line is None:
        assert [a.name for a in operators.parse(path).accounts] == ["0001", "0002", "0003", "0004"]
        return
    with pytest.raises(ParseError) as refused:
        operators.parse(path)
    assert refused.value.line == line and "柜员清单.csv" in refused.value.reason_zh


@pytest.mark.parametrize("parse", [ldap.parse, ad.parse])
def test_a_base64_value_with_a_character_outside_ascii_is_refused_naming_the_line(
    parse, tmp_path: Path
) -> None:
    """Found by the property above: base64 raised a plain ValueError (not binascii.Error) out of the LDIF reader."""
    path = tmp_path / "export.ldif"
    path.write_text("dn: uid=a,dc=x\nobjectClass: account\ncn:: 王五\n", encoding="utf-8")
    with pytest.raises(ParseError) as refused:
        parse(path)
    assert (
        refused.value.line == 3
        and "base64" in refused.value.reason_zh
        and "export.ldif" in refused.value.reason_en
    )


@pytest.mark.parametrize("kind", ["mysql-grants", "pg-roles"])
def test_a_grants_backup_with_a_lone_semicolon_is_read(kind: str, tmp_path: Path) -> None:
    """Found by the long profile: an empty statement (';' alone) raised IndexError out of mariadb.parse and
    postgresql.parse."""
    parse, name, seed = SEEDS[kind]
    path = tmp_path / name
    path.write_bytes(b";\n" + seed)
    assert parse(path).accounts


def test_an_xlsx_whose_workbook_part_is_encrypted_is_refused_naming_the_file(tmp_path: Path) -> None:
    """Found by the long profile: zipfile's RuntimeError for an encrypted member escaped operators.parse."""
    data = bytearray(_operators_xlsx())
    at = data.find(b"PK\x01\x02")
    while data[at + 46 : at + 46 + len(b"xl/workbook.xml")] != b"xl/workbook.xml":
        at = data.find(b"PK\x01\x02", at + 4)
    data[at + 8] |= 1  # the central directory's flag bit 0: encrypted
    path = tmp_path / "柜员清单.xlsx"
    path.write_bytes(bytes(data))
    with pytest.raises(ParseError) as refused:
        operators.parse(path)
    assert "柜员清单.xlsx" in refused.value.reason_zh


@pytest.mark.parametrize(
    ("text", "hour"),
    [
        ("20261130080000+0800", 0),
        ("20261130080000+08", 0),
        ("20261130080000+9999", None),
        ("20261130080000+1", None),
    ],
)
def test_a_generalized_time_with_a_short_or_impossible_offset(text: str, hour: int | None) -> None:
    """Found by the long profile: '+08' raised ValueError (int('')) out of ldap.parse; '+9999' would have
    raised from timezone(); both are a time or an unknown time now."""
    when = ldap.generalized(text)
    assert (when.astimezone(UTC).hour if when else None) == hour
