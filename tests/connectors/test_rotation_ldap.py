"""Rotation of directory super-user passwords end to end (issue 15): OpenLDAP on Debian's slapd (the hash written,
never the password; slapd's stats log scanned) and Active Directory on the Samba DC of test_ad_live (unicodePwd
over LDAPS); a plan approved by a second person, each change proven (the stored verifier where readable, a
fresh bind), nothing else about the entry moved; no password anywhere."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest

from handover.audit.models import Event
from handover.connectors.change import ldap_password as changer
from handover.connectors.manifest import Credential, Target
from handover.core.actors import system
from handover.org.models import Role
from handover.registers.models import Account, Row
from handover.rotation import services as rotation
from handover.rotation.models import ItemState, PlanState, RotationItem
from handover.vault import services as vault
from handover.vault.models import SecretKind, VerifyResult
from tests.connectors.scenes import target_scene
from tests.connectors.slapd_server import Slapd, slapd_server, ssha
from tests.connectors.test_restore_ldap import ADMIN, CANARY, DATA, SUFFIX

WANGWU_PW = "Pw-ww-1"


@pytest.fixture
def slapd() -> Iterator[Slapd]:
    with slapd_server(suffix=SUFFIX, admin=ADMIN, password=CANARY, data=DATA) as found:
        yield found


def _current(login: str) -> str:
    entry = Account.objects.get(login_name=login).vault_entry
    return vault.secret_use_for_task(entry_id=entry.pk, purpose="test: the current secret")


def test_an_openldap_admin_group_member_is_rotated_and_proven(
    world, slapd: Slapd, settings, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tech, target = target_scene(world, settings, tmp_path, connector="ldap", name="统一认证", host="ldap01",
                          port=slapd.port, login=ADMIN, secret=CANARY, options={"base": SUFFIX})  # fmt: skip
    wangwu = Account.objects.get(login_name="wangwu", asset=target.asset)
    vault.secret_capture(actor=system("test"), account=wangwu, secret=WANGWU_PW, kind=SecretKind.ORIGINAL)
    where = Target("127.0.0.1", slapd.port, timeout=20.0, options=(("base", SUFFIX),))
    admin = Credential(ADMIN, CANARY)
    before = asyncio.run(changer.snapshot(where, admin, "wangwu"))
    assert f"cn=admins,{SUFFIX}" in before.groups
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    assert list(plan.items.values_list("login_name", flat=True)) == ["wangwu"]
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    plan = rotation.plan_run(plan_id=plan.pk)
    item = RotationItem.objects.get(plan=plan)
    assert (plan.state, item.state, item.outcome) == (PlanState.DONE, ItemState.DONE, VerifyResult.SUCCESS), (
        item.reason
    )
    new = _current("wangwu")
    assert asyncio.run(changer.login_works(where, "wangwu", new, admin=admin))
    assert not asyncio.run(changer.login_works(where, "wangwu", WANGWU_PW, admin=admin))
    assert asyncio.run(changer.stored_matches(where, admin, "wangwu", new))
    assert asyncio.run(changer.snapshot(where, admin, "wangwu")) == before
    stored = changer._stored(where, admin, "wangwu")
    assert len(stored) == 1 and stored[0].startswith("{CRYPT}$6$")
    texts = [
        slapd.log.read_text(errors="replace"),
        caplog.text,
        json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str),
        json.dumps(list(Row.objects.values("data", "remarks")), ensure_ascii=False, default=str),
        json.dumps(list(RotationItem.objects.values()), ensure_ascii=False, default=str),
    ]
    for secret in (new, CANARY, WANGWU_PW, stored[0]):
        assert [i for i, text in enumerate(texts) if secret in text] == [], secret


def test_verifiers_of_each_scheme_are_checked() -> None:
    from handover.connectors.change.sha512crypt import sha512_crypt

    assert changer.verifier_matches("pw", ssha("pw")) and not changer.verifier_matches("px", ssha("pw"))
    assert changer.verifier_matches("pw", "{CRYPT}" + sha512_crypt("pw"))
    assert not changer.verifier_matches("pw", "{PBKDF2-SHA512}whatever") and changer.verifier_matches(
        "pw", "pw"
    )
