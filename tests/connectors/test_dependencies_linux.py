"""Configuration dependencies on a real sshd with its own /etc (connectors/change/dependencies.py): where opsuser's
password may be used is listed (crontab, cron.d, a systemd unit, .pgpass, .my.cnf, configuration naming it under
a declared folder) and nothing else; the files still holding the old password are found by a search in this
process, which the password never leaves: it is in no command line, no sshd DEBUG3 log, no log of ours."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from handover.connectors.change import dependencies
from handover.connectors.manifest import Credential, Target
from tests.connectors.dependency_files import plant
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host, etc_host

ADMIN = Credential("root", ADMIN_PW)


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    with etc_host() as found:
        yield found


def _target(host: Host) -> Target:
    return Target("127.0.0.1", host.port, timeout=20.0)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_places_the_account_runs_or_is_named_are_listed_with_their_digests(host: Host) -> None:
    planted = plant(host)
    uses = asyncio.run(
        dependencies.find(_target(host), ADMIN, "opsuser", [str(planted.declared), "/nowhere"])
    )
    found = {use.path: use for use in uses}
    expected = {
        "/var/spool/cron/crontabs/opsuser": ("crontab", planted.crontab),
        "/etc/cron.d/app-backup": ("cron", planted.cron_d),
        "/etc/systemd/system/app-worker.service": ("systemd", planted.unit),
        str(planted.pgpass): ("pgpass", planted.pgpass),
        str(planted.my_cnf): ("mycnf", planted.my_cnf),
        str(planted.properties): ("config", planted.properties),
        str(planted.yml): ("config", planted.yml),
    }
    for path, (kind, local) in expected.items():
        assert path in found, (path, sorted(found))
        assert (found[path].kind, found[path].sha256, found[path].skipped) == (kind, _sha(local), "")
    assert found["/nowhere"].skipped == "missing"
    listed = set(found) - set(expected) - {"/nowhere"}
    others = {str(p) for p in planted.others} | {"/etc/cron.d/other-job", "/etc/systemd/system/other.service"}
    assert not listed & others, listed & others  # another user's files, a comment, a text file


def test_the_files_still_holding_the_old_password_are_found_here_and_it_leaves_no_trace(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    planted = plant(host)
    target = _target(host)
    uses = asyncio.run(dependencies.find(target, ADMIN, "opsuser", [str(planted.declared)]))
    planted.yml.write_text("datasource:\n  username: opsuser\n  password: New-by-hand-2\n")  # changed by hand
    watcher = subprocess.Popen(  # every command line on the machine while the files are checked
        ["sh", "-c", "for i in $(seq 1 300); do cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; echo; "
         "sleep 0.01; done"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        held = asyncio.run(dependencies.still_holds(target, ADMIN, uses, OLD_PW))
    finally:
        watcher.terminate()
        seen = watcher.communicate()[0]
    assert held[str(planted.pgpass)].holds and held[str(planted.properties)].holds  # as is; percent-encoded
    assert not held[str(planted.yml)].holds and not held[str(planted.my_cnf)].holds
    assert not held["/etc/systemd/system/app-worker.service"].holds
    assert held[str(planted.yml)].sha256 == _sha(planted.yml)
    assert set(held) == {use.path for use in uses if not use.skipped}
    sshd_log = host.log.read_text(errors="replace")
    assert "Accepted password for root" in sshd_log  # the DEBUG3 log is written
    for text in (seen, sshd_log, caplog.text, repr(held), repr(uses)):
        assert OLD_PW not in text and ADMIN_PW not in text


def test_a_file_gone_after_the_change_is_said_so(host: Host) -> None:
    planted = plant(host)
    target = _target(host)
    uses = asyncio.run(dependencies.find(target, ADMIN, "opsuser", [str(planted.declared)]))
    planted.properties.unlink()
    held = asyncio.run(dependencies.still_holds(target, ADMIN, uses, OLD_PW))
    assert held[str(planted.properties)] == dependencies.Held("", False, unread="absent")


def test_past_the_limits_files_are_listed_unread_with_the_reason(host: Host, monkeypatch) -> None:
    planted = plant(host)
    (planted.declared / "wallet").mkdir(exist_ok=True)
    (planted.declared / "wallet/cwallet.sso").write_bytes(b"\xa1\xf8binary")
    big = planted.declared / "conf/big.xml"
    big.write_text("<c><username>opsuser</username></c>" + " " * 4096)
    monkeypatch.setattr(dependencies, "MAX_FILE_BYTES", 2048)
    uses = {
        u.path: u
        for u in asyncio.run(dependencies.find(_target(host), ADMIN, "opsuser", [str(planted.declared)]))
    }
    assert (uses[str(big)].skipped, uses[str(big)].sha256) == ("size", "")
    assert uses[str(planted.declared / "wallet/cwallet.sso")].skipped == "wallet"
    assert uses[str(planted.properties)].skipped == ""
    monkeypatch.setattr(dependencies, "MAX_FILES", 2)
    uses = {
        u.path: u
        for u in asyncio.run(dependencies.find(_target(host), ADMIN, "opsuser", [str(planted.declared)]))
    }
    assert uses[str(planted.declared)].skipped == "count"
    big.unlink()


@pytest.mark.parametrize(
    "paths",
    [["relative/conf"], ["/"], ["/opt/../etc"], ["/proc/1"], ["/opt/a\nb"], [f"/opt/{n}" for n in range(33)]],
)
def test_paths_that_may_not_be_searched_are_refused_before_connecting(paths: list[str]) -> None:
    with pytest.raises(ValueError):
        asyncio.run(dependencies.find(Target("127.0.0.1", 1), ADMIN, "opsuser", paths))


def test_a_name_that_is_not_an_account_is_refused_and_an_empty_secret_too() -> None:
    with pytest.raises(ValueError):
        asyncio.run(dependencies.find(Target("127.0.0.1", 1), ADMIN, "ops; reboot", []))
    with pytest.raises(ValueError):
        asyncio.run(dependencies.still_holds(Target("127.0.0.1", 1), ADMIN, [], ""))


@pytest.mark.parametrize(
    ("written", "holds"),
    [
        ("password=p@ss:w=rd/中", True),
        ("url=jdbc:x://h/db?user=u&password=p%40ss%3Aw%3Drd%2F%E4%B8%AD", True),
        ("h:5432:db:u:p@ss\\:w=rd/中", True),  # .pgpass escapes ':'
        ("password=p@ss\\:w\\=rd/\\u4E2D", True),  # java.util.Properties.store
        ('{"password": "p@ss:w=rd/\\u4e2d"}', True),  # JSON
        ("password=p@ss:w=rd/", False),
    ],
)
def test_the_old_password_is_found_in_the_forms_configuration_writes(written: str, holds: bool) -> None:
    content = written.encode()
    assert any(form in content for form in dependencies._forms("p@ss:w=rd/中")) is holds
