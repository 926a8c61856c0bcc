"""The crash matrix (issue 15): a run stopped dead at every named step boundary, then resumed, on every platform
rotation supports here (PostgreSQL's and MariaDB's in their own modules) — each account ends with exactly one
change, its vault's current secret working on the target, no pending secret left, the plan done. The stop is
``core.faults.armed``: a BaseException that no handler catches, so only the database's rollback of an open
transaction runs, as after kill -9."""

from __future__ import annotations

import pytest

from handover.connectors.change import ldap_password
from handover.connectors.change import linux as linux_changer
from handover.registers.models import Account
from handover.vault import services as vault
from tests.connectors.crash_matrix import matrix


def test_linux(linux_scene, monkeypatch) -> None:
    world, tech, target = linux_scene
    matrix(world, tech, target, linux_changer, monkeypatch)


def test_openldap(scene_ldap, monkeypatch) -> None:
    world, tech, target = scene_ldap
    matrix(world, tech, target, ldap_password.OPENLDAP, monkeypatch)


@pytest.fixture
def scene_ldap(world, settings, tmp_path):  # type: ignore[no-untyped-def]
    from handover.core.actors import system
    from handover.vault.models import SecretKind
    from tests.connectors.scenes import target_scene
    from tests.connectors.slapd_server import slapd_server
    from tests.connectors.test_restore_ldap import ADMIN, CANARY, DATA, SUFFIX
    from tests.connectors.test_rotation_ldap import WANGWU_PW

    with slapd_server(suffix=SUFFIX, admin=ADMIN, password=CANARY, data=DATA) as slapd:
        tech, target = target_scene(world, settings, tmp_path, connector="ldap", name="统一认证", host="ldap01",
                              port=slapd.port, login=ADMIN, secret=CANARY, options={"base": SUFFIX})  # fmt: skip
        wangwu = Account.objects.get(login_name="wangwu", asset=target.asset)
        vault.secret_capture(actor=system("test"), account=wangwu, secret=WANGWU_PW, kind=SecretKind.ORIGINAL)
        yield world, tech, target
