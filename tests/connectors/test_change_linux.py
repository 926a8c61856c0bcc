"""The Linux changer against a real sshd whose whole /etc is a copy of its own (chpasswd replaces /etc/shadow
by a rename, which a bind-mounted single file refuses): the password changes, only the hash crosses the wire,
the new one logs in and the old one no longer does, nothing else about the account moves, and the canary is
in no command line, no sshd log, no log of ours."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Iterator

import pytest

from handover.connectors.change import linux as changer
from handover.connectors.change.sha512crypt import sha512_crypt
from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential, Target
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host, etc_host

NEW_PW = "Canary-new-9f1a-中文"  # the new secret: only its hash may leave the client


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    with etc_host() as found:
        yield found


def _target(host: Host) -> Target:
    return Target("127.0.0.1", host.port, timeout=20.0)


ADMIN = Credential("root", ADMIN_PW)


def test_the_password_changes_and_is_proven_and_nothing_else_moves(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    target = _target(host)
    assert asyncio.run(changer.login_works(target, "opsuser", OLD_PW))
    before = asyncio.run(changer.snapshot(target, ADMIN, "opsuser"))
    assert "opsadm" in before.groups and before.passwd.startswith("opsuser:x:2001:")
    watcher = subprocess.Popen(  # every command line on the machine while the change runs
        [
            "sh",
            "-c",
            "for i in $(seq 1 400); do cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; echo; sleep 0.01; done",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        asyncio.run(changer.change(target, ADMIN, "opsuser", NEW_PW))
    finally:
        watcher.terminate()
        seen = watcher.communicate()[0]
    assert asyncio.run(changer.shadow_matches(target, ADMIN, "opsuser", NEW_PW))
    assert not asyncio.run(changer.shadow_matches(target, ADMIN, "opsuser", OLD_PW))
    assert asyncio.run(changer.login_works(target, "opsuser", NEW_PW))
    assert not asyncio.run(changer.login_works(target, "opsuser", OLD_PW))
    after = asyncio.run(changer.snapshot(target, ADMIN, "opsuser"))
    assert after == before  # passwd line, aging (min 1, max 90, warn 7, inactive 30), groups, sudo, keys
    sshd_log = host.log.read_text(errors="replace")
    assert (
        "Accepted password for root" in sshd_log and "Accepted password for opsuser" in sshd_log
    )  # DEBUG3 log
    for text in (seen, sshd_log, caplog.text):
        assert NEW_PW not in text and ADMIN_PW not in text


def test_failures_are_outcomes_without_the_secret(host: Host) -> None:
    target = _target(host)
    with pytest.raises(GatherError) as caught:
        asyncio.run(changer.change(target, Credential("root", "wrong-admin"), "opsuser", NEW_PW))
    assert caught.value.status is Status.AUTH_FAILED and NEW_PW not in str(caught.value)
    with pytest.raises(GatherError) as caught:
        asyncio.run(changer.change(target, ADMIN, "nosuchuser", NEW_PW))
    assert caught.value.status is Status.REFUSED and NEW_PW not in caught.value.reason_zh
    assert asyncio.run(changer.shadow_line(target, ADMIN, "nosuchuser")) == ""
    with pytest.raises(ValueError):
        asyncio.run(changer.change(target, ADMIN, "ops; rm -rf /", NEW_PW))


@pytest.mark.parametrize("password", ["abc", "Canary-中文-1", "x" * 100, "p@ss word:with$signs"])
def test_the_hash_is_the_one_openssl_and_glibc_make(password: str) -> None:
    from handover.connectors.change.sha512crypt import verify

    made = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", "abcdefghijklmnopqrstu", "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert sha512_crypt(password, "abcdefghijklmnopqrstu") == made  # the salt is cut to 16 like glibc's
    assert verify(password, made) and not verify(password + "x", made)
    assert verify(password, sha512_crypt(password, "s", rounds=6000)) and "$rounds=6000$" in sha512_crypt(
        password, "s", rounds=6000
    )
