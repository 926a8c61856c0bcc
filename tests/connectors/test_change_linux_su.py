"""The verification ladder's local login (issue 15: 「a fresh local login where direct login is forbidden (su …)」)
on a real sshd that forbids opsuser a password login (a Match block) and root one (PermitRootLogin no for the
second host, the administrator then a sudoer): the configuration is read with ``sshd -T``, su is run by an
unprivileged user in a pseudo-terminal and answered at its prompt; the password is never an argument and is in
neither the sshd DEBUG3 log nor what the session printed."""

from __future__ import annotations

import asyncio

import pytest

from handover.connectors.change import LOCAL, NETWORK, fresh_login
from handover.connectors.change import linux as changer
from handover.connectors.manifest import Credential, Target
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, etc_host

pytestmark = pytest.mark.sqlite_pass

FORBID_OPS = "Match User opsuser\n  PasswordAuthentication no\n"


def test_a_forbidden_direct_login_is_verified_by_su_at_its_prompt() -> None:
    with etc_host(sudo_ops=True, sshd_extra=FORBID_OPS) as host:
        place = Target("127.0.0.1", host.port, timeout=20.0)
        admin = Credential("root", ADMIN_PW)
        assert asyncio.run(changer.direct_login_forbidden(place, admin, "opsuser"))
        assert not asyncio.run(changer.direct_login_forbidden(place, admin, "root"))
        assert not asyncio.run(changer.login_works(place, "opsuser", OLD_PW))  # sshd refuses it, rightly
        assert asyncio.run(changer.local_login_works(place, admin, "opsuser", OLD_PW))
        assert not asyncio.run(changer.local_login_works(place, admin, "opsuser", "Not-the-pw-1"))
        new = "New-ops-pw-Su-73"
        asyncio.run(changer.change(place, admin, "opsuser", new))
        assert asyncio.run(fresh_login(changer, place, "opsuser", new, admin=admin)) == (True, LOCAL)
        assert asyncio.run(fresh_login(changer, place, "opsuser", OLD_PW, admin=admin)) == (False, LOCAL)
        assert asyncio.run(fresh_login(changer, place, "root", ADMIN_PW, admin=admin)) == (True, NETWORK)
        log = host.log.read_text(errors="replace")
        assert all(secret not in log for secret in (OLD_PW, new, ADMIN_PW))


def test_root_without_ssh_login_is_verified_by_su_through_a_sudo_administrator() -> None:
    """PermitRootLogin no: the administrator is opsuser, a sudoer (NOPASSWD: the changer uses ``sudo -n``), and
    root's password is proven by su, not by an SSH login as root."""
    extra = "PermitRootLogin no\n"
    with etc_host(sudo_ops=False, sshd_extra=extra) as host:
        (host.root / "etc/sudoers.d/ops").write_text("opsuser ALL=(ALL:ALL) NOPASSWD: ALL\n")
        place = Target("127.0.0.1", host.port, timeout=20.0)
        admin = Credential("opsuser", OLD_PW)
        assert asyncio.run(changer.direct_login_forbidden(place, admin, "root"))
        assert not asyncio.run(changer.login_works(place, "root", ADMIN_PW))
        assert asyncio.run(fresh_login(changer, place, "root", ADMIN_PW, admin=admin)) == (True, LOCAL)
        assert asyncio.run(fresh_login(changer, place, "root", "Wrong-root-pw-2", admin=admin)) == (
            False,
            LOCAL,
        )
        assert ADMIN_PW not in host.log.read_text(errors="replace")


def test_deny_users_is_a_forbidden_direct_login_too() -> None:
    with etc_host(sudo_ops=True, sshd_extra="DenyUsers opsuser nobody@10.*\n") as host:
        place = Target("127.0.0.1", host.port, timeout=20.0)
        admin = Credential("root", ADMIN_PW)
        assert asyncio.run(changer.direct_login_forbidden(place, admin, "opsuser"))
        assert not asyncio.run(changer.direct_login_forbidden(place, admin, "root"))
        assert asyncio.run(fresh_login(changer, place, "opsuser", OLD_PW, admin=admin)) == (True, LOCAL)
