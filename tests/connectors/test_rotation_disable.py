"""停用 (第二十六条第3项 A) and its exact restore (第二十八条第3项, E03) on real servers: sshd with its own /etc,
PostgreSQL, MariaDB and slapd with ppolicy. Each platform: the lock state read, disabled (no login), brought back
exactly as it was — an account already locked before stays locked. Then the Django flow on Linux: from a 表11 停用
row, asked by one, approved by another (第八条), the state recorded before the change, applied, restored within
an E03 case opened by another person, 「恢复相应用户」 ticked; the refusals name the row and column."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator

import pytest

from handover.audit.models import Event
from handover.connectors.change import ldap_password
from handover.connectors.change import linux as linux_changer
from handover.connectors.change import mariadb as mariadb_changer
from handover.connectors.change import postgresql as pg_changer
from handover.connectors.manifest import Credential, Target
from handover.core.errors import DomainError, PermissionDenied
from handover.discovery.services import engine_target
from handover.org.models import Engagement, Phase, Role
from handover.registers.models import Account, Row
from handover.rotation import disables
from handover.rotation.models import Disablement, DisableState
from handover.workflow.services import cases
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host
from tests.connectors.mariadb_server import mariadb_server
from tests.connectors.pg_cluster import pg_cluster
from tests.connectors.slapd_server import slapd_server
from tests.connectors.test_restore_ldap import ADMIN, CANARY, DATA, SUFFIX
from tests.factories import register_form


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    from django.utils import translation

    with translation.override("en"):
        yield


def _round_trip(changer, place, admin, account, *, login) -> None:  # type: ignore[no-untyped-def]
    """Disable, prove no login, enable with the state read before, prove it is that state and logs in again."""
    before = asyncio.run(changer.lock_state(place, admin, account))
    assert not changer.disabled(before) and login()
    asyncio.run(changer.disable(place, admin, account))
    assert changer.disabled(asyncio.run(changer.lock_state(place, admin, account))) and not login()
    asyncio.run(changer.enable(place, admin, account, before))
    assert asyncio.run(changer.lock_state(place, admin, account)) == before and login()


def test_linux_disable_and_exact_restore(etc_linux: Host) -> None:
    place = Target("127.0.0.1", etc_linux.port, timeout=20.0)
    admin = Credential("root", ADMIN_PW)
    _round_trip(linux_changer, place, admin, "opsuser",
                login=lambda: asyncio.run(linux_changer.login_works(place, "opsuser", OLD_PW)))  # fmt: skip
    # An account locked before the disable is locked after its restore, its expiry as it was.
    asyncio.run(linux_changer._run(place, admin, "usermod -L -e 2030-01-01 opsuser"))
    before = asyncio.run(linux_changer.lock_state(place, admin, "opsuser"))
    assert before["locked"] == "yes" and before["expire"] not in ("", "1")
    asyncio.run(linux_changer.disable(place, admin, "opsuser"))
    asyncio.run(linux_changer.enable(place, admin, "opsuser", before))
    assert asyncio.run(linux_changer.lock_state(place, admin, "opsuser")) == before


def test_postgresql_nologin_and_back() -> None:
    with pg_cluster("Canary-pg-dis-1", "CREATE ROLE dba SUPERUSER LOGIN PASSWORD 'Dba-pw-1';") as cluster:
        place = Target("127.0.0.1", cluster.port, timeout=20.0)
        admin = Credential("gatherer", "Canary-pg-dis-1")
        _round_trip(pg_changer, place, admin, "dba",
                    login=lambda: asyncio.run(pg_changer.login_works(place, "dba", "Dba-pw-1")))  # fmt: skip


def test_mariadb_account_lock_and_back() -> None:
    fixture = f"""
CREATE USER 'admin'@'127.0.0.1' IDENTIFIED BY PASSWORD '{mariadb_changer.native_hash("Canary-my-dis-1")}';
GRANT ALL PRIVILEGES ON *.* TO 'admin'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER 'dba'@'%' IDENTIFIED BY PASSWORD '{mariadb_changer.native_hash("Dba-pw-2")}';
"""
    with mariadb_server(fixture) as server:
        place = Target("127.0.0.1", server.port, timeout=20.0)
        admin = Credential("admin@127.0.0.1", "Canary-my-dis-1")
        _round_trip(mariadb_changer, place, admin, "dba@%",
                    login=lambda: asyncio.run(mariadb_changer.login_works(place, "dba", "Dba-pw-2")))  # fmt: skip


POLICY = f"""
dn: ou=policies,{SUFFIX}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{SUFFIX}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
"""


def test_openldap_ppolicy_lock_and_back() -> None:
    """Under a password policy (ppolicy enforces a lock only there) the entry's pwdAccountLockedTime locks it."""
    policy = f"cn=default,ou=policies,{SUFFIX}"
    with slapd_server(
        suffix=SUFFIX, admin=ADMIN, password=CANARY, data=DATA + POLICY, default_policy=policy
    ) as slapd:
        place = Target("127.0.0.1", slapd.port, timeout=20.0, options={"base": SUFFIX})
        admin = Credential(ADMIN, CANARY)
        changer = ldap_password.OPENLDAP

        def login() -> bool:
            return asyncio.run(changer.login_works(place, "wangwu", "Pw-ww-1", admin=admin))

        _round_trip(changer, place, admin, "wangwu", login=login)


def _t11_row(world, target, login: str, **data) -> Row:  # type: ignore[no-untyped-def]
    account = Account.objects.get(login_name=login, asset=target.asset)
    values = {"system_id": account.system_id, "asset_id": account.asset_id, "account_id": account.pk,
              "action": "停用", "disable_until": "2099-12-31", **data}  # fmt: skip
    form = register_form(world.engagement, target.site, 11)
    return Row.objects.create(form=form, seq=form.rows.count() + 1, data=values)


def test_a_t11_row_disables_with_two_persons_and_e03_brings_it_back_as_it_was(
    linux_scene, etc_linux: Host
) -> None:
    world, tech, target = linux_scene
    Engagement.objects.filter(pk=world.engagement.pk).update(phase=Phase.HANDOVER)
    world.engagement.refresh_from_db()
    place = engine_target(target)
    other = world.login_with(Role.TECH_GROUP)
    # Refusals name the row and the column, and write nothing.
    with pytest.raises(DomainError, match="处理措施"):
        disables.disable_request(actor=tech, row=_t11_row(world, target, "opsuser", action="保留"))
    with pytest.raises(DomainError, match="停用观察至"):
        disables.disable_request(
            actor=tech, row=_t11_row(world, target, "opsuser", disable_until="2020-01-01")
        )
    with pytest.raises(DomainError, match="own login"):
        disables.disable_request(actor=tech, row=_t11_row(world, target, "root"))
    assert not Disablement.objects.exists()
    row = _t11_row(world, target, "opsuser")
    found = disables.disable_request(actor=tech, row=row)
    assert found.observe_until == dt.date(2099, 12, 31)
    with pytest.raises(DomainError, match="already"):
        disables.disable_request(actor=other, row=row)
    with pytest.raises(DomainError, match="approved"):
        disables.disable_apply(actor=tech, disablement=found)
    with pytest.raises(PermissionDenied):
        disables.disable_approve(actor=tech, disablement=found)  # 第八条
    found = disables.disable_approve(actor=other, disablement=found)
    found = disables.disable_apply(actor=tech, disablement=found)
    assert found.state == DisableState.DISABLED, found.detail
    assert found.before == {"locked": "no", "expire": ""}
    assert not asyncio.run(linux_changer.login_works(place, "opsuser", OLD_PW))
    # E03: opened from the 表11 row by one person, the account restored by another, exactly as it was.
    case = cases.case_open(actor=tech, engagement=world.engagement, path_id="E03", source_row=row,
                           description="停用 opsuser 后日终批处理失败")  # fmt: skip
    with pytest.raises(PermissionDenied):
        disables.disable_restore(actor=tech, disablement=found, case=case)
    found = disables.disable_restore(actor=other, disablement=found, case=case)
    assert found.state == DisableState.RESTORED and found.case_id == case.pk, found.detail
    admin = Credential("root", ADMIN_PW)
    assert asyncio.run(linux_changer.lock_state(place, admin, "opsuser")) == found.before
    assert asyncio.run(linux_changer.login_works(place, "opsuser", OLD_PW))
    assert case.items.filter(key="restore_user").exists()
    actions = list(
        Event.objects.filter(action__startswith="rotation.disable.")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["rotation.disable.request", "rotation.disable.approve", "rotation.disable.apply",
                       "rotation.disable.restore"]  # fmt: skip
    texts = [etc_linux.log.read_text(errors="replace"),
             json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str)]  # fmt: skip
    for secret in (ADMIN_PW, OLD_PW):
        assert all(secret not in text for text in texts)


def test_the_command_line_and_the_api_disable_and_list(linux_scene, capsys, client) -> None:
    from django.core.management import CommandError, call_command

    world, tech, target = linux_scene
    row = _t11_row(world, target, "opsuser")
    other = world.login_with(Role.TECH_GROUP)
    call_command("rotation", "disable", "--row", str(row.pk), "--user", tech.username)
    found = Disablement.objects.get()
    with pytest.raises(CommandError, match="another person"):
        call_command("rotation", "disable-approve", str(found.pk), "--user", tech.username)
    call_command("rotation", "disable-approve", str(found.pk), "--user", other.username)
    call_command("rotation", "disable-apply", str(found.pk), "--user", tech.username)
    assert f"停用 {found.pk}: disabled" in capsys.readouterr().out
    assert not asyncio.run(linux_changer.login_works(engine_target(target), "opsuser", OLD_PW))
    client.force_login(tech)
    url = f"/api/engagements/{world.engagement.code}/rotation/disables/"
    listed = client.get(url).json()
    assert [(d["id"], d["state"], d["before"]) for d in listed] == [
        (found.pk, "disabled", {"locked": "no", "expire": ""})
    ]
    client.force_login(world.login_with(Role.ONSITE_POST, site=world.branch_b))
    assert client.get(url).json() == [] and client.get(f"{url}{found.pk}/").status_code == 404
