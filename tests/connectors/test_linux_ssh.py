"""The Linux connector live: real sshd per fixture host, each in its own mount namespace (conftest)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import subprocess
from pathlib import Path

import pytest

from handover.connectors import linux
from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential, Target
from handover.connectors.serial import inventory_dumps
from tests.connectors.conftest import PASSWORD, SshHost

SCRIPT = Path(linux.__file__).parent.parent / "linux_collect.sh"


def _target(host: SshHost, **kw) -> Target:  # type: ignore[no-untyped-def]
    return Target("127.0.0.1", host.port, timeout=20.0, **kw)


def _gather(host: SshHost, user: str = "root", secret: str = PASSWORD, **kw):  # type: ignore[no-untyped-def]
    return asyncio.run(linux.gather(_target(host, **kw), Credential(user, secret)))


def _offline(host: SshHost, out: Path):  # type: ignore[no-untyped-def]
    """The field technician's way: the collection script run on the host itself, then the folder parsed."""
    subprocess.run(["nsenter", "-t", str(host.pid), "-m", "sh", str(SCRIPT), str(out)], check=True)
    return linux.parse(out)


def _same(inventory):  # type: ignore[no-untyped-def]
    return dataclasses.replace(
        inventory, target="", gathered_at=inventory.gathered_at.replace(year=2000), host_key=""
    )


@pytest.mark.parametrize("name", ["alpha", "beta", "gamma"])
def test_live_and_offline_give_the_same_inventory(ssh_hosts, tmp_path, name) -> None:
    host = ssh_hosts[name]
    live = _gather(host)
    offline = _offline(host, tmp_path / "collected")
    offline = dataclasses.replace(offline, gathered_at=live.gathered_at)
    assert live.host_key.startswith("ssh-ed25519 ")
    assert inventory_dumps(_same(live)) == inventory_dumps(_same(offline))
    assert [s.content for s in live.sources] == [s.content for s in offline.sources]
    names = {a.name for a in live.accounts}
    assert names == {line.split(b":")[0].decode() for line in host.files["etc/passwd"].splitlines()}
    assert "/handover/sshd-T.txt" in {s.name for s in live.sources}
    assert (
        dict(live.settings)["sshd.authorizedkeysfile"]
        == ".ssh/authorized_keys .ssh/authorized_keys2 /etc/ssh/keys/%u"
    )


def test_each_host_has_its_own_accounts(ssh_hosts) -> None:
    alpha, beta = _gather(ssh_hosts["alpha"]), _gather(ssh_hosts["beta"])
    assert alpha.account("toor") is not None and beta.account("toor") is None
    assert beta.account("alice").uid == "2000" and alpha.account("alice").uid == "1000"
    assert [k.file for k in beta.account("svc").keys] == ["/etc/ssh/keys/svc"]


def test_a_non_root_account_gathers_through_sudo_n(ssh_hosts) -> None:
    as_root = _gather(ssh_hosts["alpha"])
    as_gather = _gather(ssh_hosts["alpha"], user="gather")
    assert _same(as_gather).accounts == _same(as_root).accounts  # shadow and sshd -T read through sudo -n


def test_wrong_password_is_auth_failed_and_the_canary_is_nowhere(ssh_hosts, caplog) -> None:
    host = ssh_hosts["gamma"]
    wrong = PASSWORD + "-wrong"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GatherError) as caught:
        _gather(host, secret=wrong)
    assert caught.value.status is Status.AUTH_FAILED and "账户 root" in caught.value.reason_zh
    _gather(host)  # and one good login with the canary itself
    texts = [caplog.text, str(caught.value), caught.value.reason_zh, repr(caught.value.__context__)]
    log = host.log.read_text(errors="replace")
    assert "debug3" in log  # the sshd logged at DEBUG3
    for secret in (PASSWORD, wrong):
        assert all(secret not in t for t in texts)
        assert secret not in log
    assert PASSWORD not in repr(Credential("root", PASSWORD))


def test_host_key_recorded_accepted_and_a_changed_one_refused(ssh_hosts) -> None:
    host = ssh_hosts["beta"]
    first = _gather(host)
    again = _gather(host, known_host_key=first.host_key)
    assert again.host_key == first.host_key
    other = (ssh_hosts["alpha"].root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
    with pytest.raises(GatherError) as caught:
        _gather(host, known_host_key=" ".join(other[:2]))
    assert caught.value.status is Status.HOST_KEY_CHANGED and "主机密钥" in caught.value.reason_zh


def test_unreachable_is_an_outcome(ssh_hosts) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(GatherError) as caught:
        asyncio.run(linux.gather(Target("127.0.0.1", port, timeout=5), Credential("root", PASSWORD)))
    assert caught.value.status is Status.UNREACHABLE and f"127.0.0.1:{port}" in caught.value.reason_en


def test_gather_many_goes_on_past_failures(ssh_hosts) -> None:
    hosts = list(ssh_hosts.values())
    targets = [_target(h, options=(("site", "sh"),)) for h in hosts] + [Target("127.0.0.1", 1, timeout=5)]
    creds = [Credential("root", PASSWORD)] * len(hosts) + [Credential("root", PASSWORD)]
    creds[1] = Credential("root", "nope")

    async def run():  # type: ignore[no-untyped-def]
        return [o async for o in linux.gather_many(targets, creds, concurrency=2, per_site=1)]

    outcomes = asyncio.run(run())
    by_port = {o.target.port: o.status for o in outcomes}
    assert by_port == {
        hosts[0].port: Status.OK, hosts[1].port: Status.AUTH_FAILED, hosts[2].port: Status.OK, 1: Status.UNREACHABLE,
    }  # fmt: skip
    assert all(o.inventory is not None for o in outcomes if o.ok)


def test_a_silent_server_is_a_timeout() -> None:
    """A port that accepts the connection and never speaks: TIMEOUT within the target's timeout."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        target = Target("127.0.0.1", server.getsockname()[1], timeout=1.0)
        with pytest.raises(GatherError) as caught:
            asyncio.run(linux.gather(target, Credential("root", PASSWORD)))
    assert caught.value.status is Status.TIMEOUT and "超时" in caught.value.reason_zh


def test_private_key_credential(ssh_hosts, key_folder) -> None:
    """Key login: beta's root has root@jump's key in /root/.ssh/authorized_keys."""
    secret = (key_folder / "root").read_text()
    inventory = asyncio.run(
        linux.gather(_target(ssh_hosts["beta"]), Credential("root", secret, kind="private_key"))
    )
    assert inventory.account("svc") is not None
    with pytest.raises(GatherError) as caught:
        asyncio.run(
            linux.gather(_target(ssh_hosts["beta"]), Credential("root", "not a key", kind="private_key"))
        )
    assert caught.value.status is Status.AUTH_FAILED and "not a key" not in str(caught.value)


def test_algorithms_only_when_the_target_names_them(ssh_hosts) -> None:
    host = ssh_hosts["gamma"]
    assert _gather(host, options=(("kex_algs", "curve25519-sha256"),)).account("empty") is not None
    with pytest.raises(GatherError) as caught:  # a legacy kex this sshd does not offer
        _gather(host, options=(("kex_algs", "diffie-hellman-group1-sha1"),))
    assert caught.value.status in (Status.REFUSED, Status.UNREACHABLE)


def test_an_account_without_root_or_sudo_gathers_what_it_can(ssh_hosts, key_folder) -> None:
    """beta's alice logs in by key; her sudo needs a password, so sudo -n is refused: shadow stays unread."""
    secret = (key_folder / "alice").read_text()
    inventory = asyncio.run(
        linux.gather(_target(ssh_hosts["beta"]), Credential("alice", secret, kind="private_key"))
    )
    assert inventory.account("ops") is not None and inventory.account("ops").superuser  # lxd, from group
    assert {a.password_state.value for a in inventory.accounts} == {"unknown"}
    assert "/etc/shadow" not in {s.name for s in inventory.sources}
    assert any("/etc/shadow: not collected" in w for w in inventory.warnings)


def test_one_connection_and_one_command_per_host(ssh_hosts, monkeypatch) -> None:
    """One SSH connection and one session (the script on stdin): a single round trip after the login."""
    import asyncssh

    connects, sessions = [], []
    real_connect, real_session = asyncssh.connect, asyncssh.SSHClientConnection.create_session

    def counting_connect(*args, **kwargs):  # type: ignore[no-untyped-def]
        connects.append(args[:2])
        return real_connect(*args, **kwargs)

    async def counting_session(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        sessions.append((args[1:], kwargs))
        return await real_session(self, *args, **kwargs)

    monkeypatch.setattr(asyncssh, "connect", counting_connect)
    monkeypatch.setattr(asyncssh.SSHClientConnection, "create_session", counting_session)
    inventory = _gather(ssh_hosts["alpha"])
    assert len(connects) == 1 and len(sessions) == 1 and inventory.account("toor") is not None
    assert PASSWORD not in repr(sessions)  # the command line carries no secret
