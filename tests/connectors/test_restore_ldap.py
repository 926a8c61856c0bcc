"""Restore of an OpenLDAP directory from its LDIF backup end to end (第二十六条第3项, 第八条) on Debian's slapd:
gathered (the sealed backup), tampered with (an admin group joined, a shell changed, a user deleted, an intruder
added into the admins), gathered again; requested, approved by another, applied, read back as the backup's
rights; passwords stay the vault's; a change after the preview refused with nothing written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handover.org.models import Role
from handover.rotation import restores
from handover.rotation.models import RestoreState
from tests.connectors.scenes import gather_again, target_scene
from tests.connectors.slapd_server import Slapd, slapd_server, ssha

CANARY = "Canary-ldap-rs-41d2"
SUFFIX = "dc=firm,dc=cn"
ADMIN = f"cn=admin,{SUFFIX}"
DATA = f"""dn: {SUFFIX}
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
uid: zhangsan
cn: 张三
sn: 张
uidNumber: 1001
gidNumber: 1001
homeDirectory: /home/zhangsan
loginShell: /bin/bash
userPassword: {ssha("Pw-zs-1")}

dn: uid=wangwu,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: wangwu
cn: 王五
sn: 王
userPassword: {ssha("Pw-ww-1")}

dn: cn=admins,{SUFFIX}
objectClass: groupOfNames
cn: admins
member: uid=wangwu,ou=people,{SUFFIX}
"""


@pytest.fixture
def slapd() -> Iterator[Slapd]:
    with slapd_server(suffix=SUFFIX, admin=ADMIN, password=CANARY, data=DATA) as found:
        yield found


@pytest.fixture
def scene(world, slapd: Slapd, settings, tmp_path):  # type: ignore[no-untyped-def]
    tech, target = target_scene(world, settings, tmp_path, connector="ldap", name="统一认证", host="ldap01",
                                port=slapd.port, login=ADMIN, secret=CANARY, options={"base": SUFFIX})  # fmt: skip
    return world, tech, target


def _write(slapd: Slapd, *changes: tuple[str, str, dict]) -> None:  # type: ignore[type-arg]
    import ldap3

    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=slapd.port), ADMIN, CANARY, auto_bind=True)
    for action, dn, value in changes:
        if action == "add":
            ok = conn.add(dn, attributes=value)
        elif action == "delete":
            ok = conn.delete(dn)
        else:
            ok = conn.modify(dn, value)
        assert ok, conn.result
    conn.unbind()


def _entry(slapd: Slapd, dn: str) -> dict[str, list[str]]:
    import ldap3

    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=slapd.port), ADMIN, CANARY, auto_bind=True)
    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["*", "+"])
    found = {
        k.lower(): [v.decode() if isinstance(v, bytes) else str(v) for v in vs]
        for k, vs in conn.entries[0].entry_attributes_as_dict.items()
    }
    conn.unbind()
    return found


def test_the_directory_is_restored_approved_by_another(scene, slapd: Slapd) -> None:
    import ldap3

    world, tech, target = scene
    people = f"ou=people,{SUFFIX}"
    _write(
        slapd,
        ("modify", f"cn=admins,{SUFFIX}", {"member": [(ldap3.MODIFY_ADD, [f"uid=zhangsan,{people}"])]}),
        ("modify", f"uid=zhangsan,{people}", {"loginShell": [(ldap3.MODIFY_REPLACE, ["/bin/zsh"])],
                                               "userPassword": [(ldap3.MODIFY_REPLACE, [ssha("Changed-1")])]}),
        ("delete", f"uid=wangwu,{people}", {}),
        ("add", f"uid=intruder,{people}", {"objectClass": ["inetOrgPerson"], "uid": "intruder", "cn": "x",
                                            "sn": "x", "userPassword": ssha("Intr-1")}),
        ("modify", f"cn=admins,{SUFFIX}", {"member": [(ldap3.MODIFY_ADD, [f"uid=intruder,{people}"])]}),
    )  # fmt: skip
    gather_again(world, tech)
    restore = restores.restore_request(actor=tech, target=target, reason="越权变更后恢复")
    assert [(f["name"], f["action"]) for f in restore.files] == [("directory.ldif", "replay")]
    diff = {d["account"]: d["state"] for d in restores.accounts_diff(restore.backup, restore.current)}
    assert diff == {"intruder": "added", "wangwu": "removed", "zhangsan": "changed"}
    with pytest.raises(Exception):  # noqa: B017 (PermissionDenied: one person is never enough)
        restores.restore_approve(actor=tech, restore=restore)
    restores.restore_approve(actor=world.login_with(Role.TECH_GROUP), restore=restore)
    done = restores.restore_apply(actor=tech, restore=restore)
    assert done.state == RestoreState.APPLIED, done.outcome
    admins = _entry(slapd, f"cn=admins,{SUFFIX}")
    assert admins["member"] == [f"uid=wangwu,{people}"]  # zhangsan and the intruder out, wangwu back
    zhangsan = _entry(slapd, f"uid=zhangsan,{people}")
    assert zhangsan["loginshell"] == ["/bin/bash"] and zhangsan["userpassword"][0] != ssha("Pw-zs-1")  # kept
    assert _entry(slapd, f"uid=wangwu,{people}")["cn"] == ["王五"]
    assert _entry(slapd, f"uid=intruder,{people}").get("pwdaccountlockedtime") == ["000001010000Z"]
    log = slapd.log.read_text(errors="replace")
    assert CANARY not in log and CANARY not in str(done.outcome)


def test_a_directory_changed_after_the_preview_is_left_alone(scene, slapd: Slapd) -> None:
    import ldap3

    world, tech, target = scene
    people = f"ou=people,{SUFFIX}"
    _write(
        slapd, ("modify", f"uid=zhangsan,{people}", {"loginShell": [(ldap3.MODIFY_REPLACE, ["/bin/zsh"])]})
    )
    gather_again(world, tech)
    restore = restores.restore_request(actor=tech, target=target, reason="恢复")
    restores.restore_approve(actor=world.login_with(Role.TECH_GROUP), restore=restore)
    _write(slapd, ("modify", f"uid=zhangsan,{people}", {"loginShell": [(ldap3.MODIFY_REPLACE, ["/bin/sh"])]}))
    done = restores.restore_apply(actor=tech, restore=restore)
    assert done.state == RestoreState.FAILED and "重新预览" in done.outcome["directory.ldif"]["reason"]
    assert _entry(slapd, f"uid=zhangsan,{people}")["loginshell"] == ["/bin/sh"]
