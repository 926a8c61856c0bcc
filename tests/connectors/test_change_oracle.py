"""Oracle rotation (issue 15): the S:/T: verifiers against published test vectors, the changer against the stand-in
driver (tests/connectors/fake_oracledb.py, which keeps passwords as verifiers and every statement text), the
offline SQL*Plus path, and a plan over an Oracle target run end to end: no password in any statement text."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from handover.audit.models import Event
from handover.connectors import oracle
from handover.connectors.change import oracle as changer
from handover.connectors.errors import GatherError, ParseError, Status
from handover.connectors.manifest import Credential, Target
from tests.connectors import fake_oracledb as fake

ADMIN_PW = "Canary-oradmin-5b1f"
DBA_PW = "Old-ora-dba-93"
NEW_PW = "Canary-new-ora-7c2d"


@pytest.fixture(autouse=True)
def driver(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(oracle, "DRIVER", "tests.connectors.fake_oracledb")
    fake.SERVERS.clear()
    yield
    fake.SERVERS.clear()


def database(version: str = "19.0.0.0.0", port: int = 1521, *, sys_readable: bool = True) -> fake.Database:
    db = fake.Database(
        version=version,
        sys_readable=sys_readable,
        users=[
            fake.User("SYSTEM", ADMIN_PW, maintained="Y"),
            fake.User("DBADMIN", DBA_PW, profile="APP_PROFILE"),
            fake.User("APP", "App-pw-1"),
        ],
        role_privs=[("SYSTEM", "DBA", "YES"), ("DBADMIN", "DBA", "NO"), ("APP", "CONNECT", "NO")],
        sys_privs=[("APP", "CREATE SESSION", "NO"), ("DBADMIN", "SELECT ANY TABLE", "YES")],
    )
    fake.SERVERS[f"127.0.0.1:{port}"] = db
    return db


PLACE = Target("127.0.0.1", 1521, timeout=5.0)
ADMIN = Credential("SYSTEM", ADMIN_PW)


# --- the verifiers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "password"),
    [  # John the Ripper's oracle11_fmt_plug.c test vectors (digest then salt, without the S: prefix)
        ("5FDAB69F543563582BA57894FE1C1361FB8ED57B903603F2C52ED1B4D642", "abc123"),
        ("450F957ECBE075D2FA009BA822A9E28709FBC3DA82B44D284DDABEC14C42", "SyStEm123!@#"),
        ("3437FF72BD69E3FB4D10C750B92B8FB90B155E26227B9AB62D94F54E5951", "oracle"),
    ],
)
def test_the_11g_s_verifier_matches_the_published_vectors(stored: str, password: str) -> None:
    assert changer.s_verifier(password, bytes.fromhex(stored[40:])) == "S:" + stored
    assert changer.matches("S:" + stored, password) and not changer.matches(
        "S:" + stored, password.upper() + "x"
    )


@pytest.mark.parametrize(
    ("stored", "password"),
    [  # John the Ripper's oracle12c_fmt_plug.c test vectors (SHA-512 then AUTH_VFR_DATA, lower-case hex)
        ("e3243b98974159cc24fd2c9a8b30ba62e0e83b6ca2fc7c55177c3a7f82602e3bdd17ceb9b9091cf9dad672b8be961a9eac4d"
         "344bdba878edc5dcb5899f689ebd8dd1be3f67bff9813a464382381ab36b", "epsilon"),
        ("eda9535a516d5c7c75ef250f8b1b5fadc023ebfdad9b8d46f023b283cabc06f822e6db556a131d8f87fb427e6a7d592ca69b"
         "0e4eef22648aa7ba00afee786a8745057545117145650771143408825746", "18445407"),
    ],
)  # fmt: skip
def test_the_12c_t_verifier_matches_the_published_vectors(stored: str, password: str) -> None:
    assert changer.t_verifier(password, bytes.fromhex(stored[128:])) == "T:" + stored.upper()
    assert changer.matches("T:" + stored, password) and not changer.matches("T:" + stored, "Epsilon")


def test_every_part_of_a_verifier_must_match() -> None:
    values = changer.verifier(NEW_PW, major=19)
    assert re.fullmatch(r"S:[0-9A-F]{60};T:[0-9A-F]{160}", values)
    assert changer.verifier(NEW_PW, major=11).count(":") == 1  # 11g: S: only
    assert changer.matches(values, NEW_PW) and not changer.matches(values, DBA_PW)
    other = changer.verifier(DBA_PW, major=19)
    assert not changer.matches(values.split(";")[0] + ";" + other.split(";")[1], NEW_PW)  # S: new, T: old
    assert not changer.matches("", NEW_PW) and not changer.matches("H:ABCDEF", NEW_PW)


# --- the changer on the stand-in driver ------------------------------------------------------------------


@pytest.mark.parametrize("version", ["11.2.0.4.0", "19.0.0.0.0"])
def test_change_proven_by_the_stored_verifier_and_a_login(version: str) -> None:
    db = database(version)
    before = asyncio.run(changer.snapshot(PLACE, ADMIN, "DBADMIN"))
    assert "DBA,NO,YES" in before.roles and "SELECT ANY TABLE,YES" in before.privileges
    assert asyncio.run(changer.stored_matches(PLACE, ADMIN, "DBADMIN", DBA_PW))
    asyncio.run(changer.change(PLACE, ADMIN, "DBADMIN", NEW_PW))
    assert asyncio.run(changer.stored_matches(PLACE, ADMIN, "DBADMIN", NEW_PW))
    assert not asyncio.run(changer.stored_matches(PLACE, ADMIN, "DBADMIN", DBA_PW))
    assert asyncio.run(changer.login_works(PLACE, "DBADMIN", NEW_PW))
    assert not asyncio.run(changer.login_works(PLACE, "DBADMIN", DBA_PW))
    assert asyncio.run(changer.snapshot(PLACE, ADMIN, "DBADMIN")) == before
    stored = db.user("DBADMIN").spare4  # type: ignore[union-attr]
    assert ("T:" in stored) is (version != "11.2.0.4.0")
    statements = "\n".join(db.executed)
    assert "IDENTIFIED BY VALUES 'S:" in statements
    assert NEW_PW not in statements and DBA_PW not in statements and ADMIN_PW not in statements


def test_unreadable_user_table_falls_back_to_a_login() -> None:
    db = database(sys_readable=False)
    assert asyncio.run(changer.stored_verifier(PLACE, ADMIN, "DBADMIN")) is None
    assert asyncio.run(changer.stored_matches(PLACE, ADMIN, "DBADMIN", DBA_PW))
    assert not asyncio.run(changer.stored_matches(PLACE, ADMIN, "DBADMIN", NEW_PW))
    assert db.failed_logins == 1  # the one refused login the fallback costs


def test_own_password_without_alter_user_is_changed_by_the_protocol() -> None:
    """An account without ALTER USER (ORA-01031) changing its own password: no statement carries it (no REPLACE)."""
    db = database()
    asyncio.run(changer.change(PLACE, Credential("APP", "App-pw-1"), "APP", NEW_PW))
    assert asyncio.run(changer.login_works(PLACE, "APP", NEW_PW))
    assert NEW_PW not in "\n".join(db.executed) and "App-pw-1" not in "\n".join(db.executed)
    with pytest.raises(GatherError) as refused:  # another account: refused with the reason
        asyncio.run(changer.change(PLACE, Credential("APP", NEW_PW), "DBADMIN", "Other-pw-1"))
    assert refused.value.status is Status.REFUSED and "ORA-01031" in refused.value.reason_zh


def test_a_reused_password_is_refused_with_the_reason_in_chinese() -> None:
    """The profile's reuse rule applies where the database sees the password (the protocol's change; a VALUES
    string bypasses the profile's checks: the vault's policy is the one that holds)."""
    db = database()
    db.refuse_reuse = True
    asyncio.run(changer.change(PLACE, Credential("APP", "App-pw-1"), "APP", NEW_PW))
    with pytest.raises(GatherError) as refused:
        asyncio.run(changer.change(PLACE, Credential("APP", NEW_PW), "APP", "App-pw-1"))
    assert (
        refused.value.status is Status.REFUSED and "口令不能重复使用（ORA-28007）" in refused.value.reason_zh
    )
    assert asyncio.run(changer.login_works(PLACE, "APP", NEW_PW))  # unchanged


def test_lock_state_disable_and_exact_restore() -> None:
    database()
    for account, locked_before in (("DBADMIN", False), ("APP", True)):
        if locked_before:
            asyncio.run(changer.disable(PLACE, ADMIN, account))
        before = asyncio.run(changer.lock_state(PLACE, ADMIN, account))
        assert changer.disabled(before) is locked_before
        asyncio.run(changer.disable(PLACE, ADMIN, account))
        assert changer.disabled(asyncio.run(changer.lock_state(PLACE, ADMIN, account)))
        assert not asyncio.run(
            changer.login_works(PLACE, account, DBA_PW if account == "DBADMIN" else "App-pw-1")
        )
        asyncio.run(changer.enable(PLACE, ADMIN, account, before))
        assert asyncio.run(changer.lock_state(PLACE, ADMIN, account)) == before
    assert asyncio.run(changer.login_works(PLACE, "DBADMIN", DBA_PW))
    with pytest.raises(ValueError):
        asyncio.run(changer.enable(PLACE, ADMIN, "DBADMIN", {}))


# --- the offline path (oracle_rotate.sql) ----------------------------------------------------------------


def _spool_as_the_script_writes(db: fake.Database) -> bytes:
    """What oracle_rotate.sql's proof statement prints: SHA-256 of REGEXP_SUBSTR S: ‖ ';' ‖ T: per user."""
    lines = []
    for user in sorted(db.users, key=lambda u: u.name):
        s = re.search(r"S:[0-9A-F]{60}", user.spare4)
        t = re.search(r"T:[0-9A-F]{160}", user.spare4)
        text = f"{s.group(0) if s else ''};{t.group(0) if t else ''}"
        lines.append(f"HANDOVER|verifier|{user.name}|{hashlib.sha256(text.encode()).hexdigest()}")
    return ("\n".join([*lines, "HANDOVER|done|2026-12-05 23:00:00"]) + "\n").encode()


def test_the_offline_script_sets_verifiers_and_its_spool_proves_them() -> None:
    db = database()
    values = {"DBADMIN": changer.verifier(NEW_PW, major=19)}
    text = changer.offline_statements(values).decode()
    assert NEW_PW not in text and text.count("IDENTIFIED BY VALUES") == 1
    body = (Path(changer.__file__).parent.parent / "oracle_rotate.sql").read_text(encoding="utf-8")
    assert body.index("@handover_verifiers.sql") < body.index(
        "SPOOL handover_rotate.lst"
    )  # unechoed, unspooled
    assert "ECHO OFF" in body and "spare4 ||" not in body  # the spool never holds a verifier
    with fake.Connection(db, "SYS").cursor() as cursor:  # the DBA's sqlplus runs the file's statements
        for statement in text.splitlines()[1:]:
            cursor.execute(statement.rstrip(";"))
    proven = changer.offline_check(_spool_as_the_script_writes(db), values)
    assert proven == {"DBADMIN": True}
    assert changer.offline_check(_spool_as_the_script_writes(db), {"APP": values["DBADMIN"]}) == {
        "APP": False
    }
    with pytest.raises(ParseError) as cut:
        changer.offline_check(b"HANDOVER|verifier|DBADMIN|00\n", values)
    assert cut.value.line == 1
    with pytest.raises(ParseError, match="HANDOVER\\|done"):
        changer.offline_check(b"", values)
    with pytest.raises(ValueError):
        changer.offline_statements({"DBADMIN": "S:12';DROP"})


# --- a plan over an Oracle target, end to end ------------------------------------------------------------


@pytest.fixture
def scene(world, settings, tmp_path):  # type: ignore[no-untyped-def]
    from handover.core.actors import system
    from handover.registers.models import Account
    from handover.vault import services as vault
    from handover.vault.models import SecretKind
    from tests.connectors.scenes import target_scene

    database(port=1529)
    tech, target = target_scene(world, settings, tmp_path, connector="oracle", name="集中交易", host="ora01",
                                port=1529, login="SYSTEM", secret=ADMIN_PW, layer="数据库")  # fmt: skip
    dba = Account.objects.get(login_name="DBADMIN", asset=target.asset)
    vault.secret_capture(actor=system("test"), account=dba, secret=DBA_PW, kind=SecretKind.ORIGINAL)
    return world, tech, target


def test_a_plan_rotates_the_oracle_super_users_without_a_password_in_any_statement(
    scene, caplog: pytest.LogCaptureFixture
) -> None:
    from handover.org.models import Role
    from handover.registers.models import Account, Row
    from handover.rotation import services as rotation
    from handover.rotation.models import PlanState, RotationItem
    from handover.vault import services as vault
    from handover.vault.models import VerifyResult

    caplog.set_level(logging.DEBUG)
    world, tech, _target = scene
    db = fake.SERVERS["127.0.0.1:1529"]
    db.executed.clear()
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    assert sorted(plan.items.values_list("login_name", flat=True)) == ["DBADMIN", "SYSTEM"]
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    plan = rotation.plan_run(plan_id=plan.pk)
    items = {i.login_name: i for i in RotationItem.objects.filter(plan=plan)}
    assert plan.state == PlanState.DONE, {k: i.reason for k, i in items.items()}
    assert {k: i.outcome for k, i in items.items()} == {"DBADMIN": VerifyResult.SUCCESS,
                                                         "SYSTEM": VerifyResult.SUCCESS}  # fmt: skip
    current = {
        login: vault.secret_use_for_task(entry_id=Account.objects.get(login_name=login).vault_entry.pk,
                                         purpose="test: the current secret")
        for login in ("DBADMIN", "SYSTEM")
    }  # fmt: skip
    for login, secret in current.items():
        assert fake.holds(db.user(login).spare4, secret)  # type: ignore[union-attr]
    assert not fake.holds(db.user("DBADMIN").spare4, DBA_PW)  # type: ignore[union-attr]
    assert all(i.row_id is not None for i in items.values())  # 表10 drafted for each
    texts = [
        "\n".join(db.executed),
        caplog.text,
        json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str),
        json.dumps(list(Row.objects.values("data", "remarks")), ensure_ascii=False, default=str),
        json.dumps(list(RotationItem.objects.values()), ensure_ascii=False, default=str),
    ]
    assert "IDENTIFIED BY VALUES" in texts[0]
    for secret in (*current.values(), ADMIN_PW, DBA_PW):
        assert [i for i, text in enumerate(texts) if secret in text] == [], secret


def test_the_exact_verifier_is_read_and_put_back() -> None:
    db = database()
    before = asyncio.run(changer.stored_verifier(PLACE, ADMIN, "DBADMIN"))
    assert before and changer.verifier_holds(before, DBA_PW) and not changer.verifier_holds(before, NEW_PW)
    asyncio.run(changer.change(PLACE, ADMIN, "DBADMIN", NEW_PW))
    assert not changer.same_verifier(
        before, asyncio.run(changer.stored_verifier(PLACE, ADMIN, "DBADMIN")) or ""
    )
    asyncio.run(
        changer.set_verifier(PLACE, ADMIN, "DBADMIN", before + ";H:0123ABCD")
    )  # an H: part is left out
    assert asyncio.run(changer.stored_verifier(PLACE, ADMIN, "DBADMIN")) == before
    assert asyncio.run(changer.login_works(PLACE, "DBADMIN", DBA_PW))
    restored = [s for s in db.executed if "IDENTIFIED BY VALUES" in s][-1]
    assert restored.endswith(f"'{before}'") and DBA_PW not in "\n".join(db.executed)
    with pytest.raises(ValueError):
        asyncio.run(changer.set_verifier(PLACE, ADMIN, "DBADMIN", "H:0123"))


@pytest.fixture
def english() -> Iterator[None]:
    """The shared revert steps compare messages in English (a request before may have left Chinese active)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.mark.usefixtures("english")
def test_an_oracle_revert_puts_the_exact_verifier_back(scene, caplog: pytest.LogCaptureFixture) -> None:
    """E01 (第二十八条第1项) on the stand-in database: SPARE4 afterwards is the one before the change."""
    from tests.connectors.test_rotation_revert_exact import _handover_texts, _no_leak, _rotate_and_revert

    caplog.set_level(logging.DEBUG)
    world, tech, _target = scene
    db = fake.SERVERS["127.0.0.1:1529"]
    before = db.user("DBADMIN").spare4  # type: ignore[union-attr]
    _item, _revert, new = _rotate_and_revert(world, tech, "DBADMIN")
    assert db.user("DBADMIN").spare4 == before  # type: ignore[union-attr]
    assert fake.holds(before, DBA_PW) and not fake.holds(before, new)
    _no_leak("\n".join(db.executed), _handover_texts(caplog), (DBA_PW, new, ADMIN_PW), before)
