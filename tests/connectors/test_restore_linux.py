"""Restoring a Linux host's permission files from the backup (第二十六条第3项) on a real sshd with its own /etc:
the file put back whole with its mode and owner, only when it is still as the preview saw it; a sudoers file
visudo refuses is not written; a file added since the backup deleted; nothing else is touched."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator

import pytest

from handover.connectors.change import linux as changer
from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential, Target
from handover.connectors.model import digest_of
from tests.connectors.etc_host import ADMIN_PW, Host, etc_host

ADMIN = Credential("root", ADMIN_PW)


@pytest.fixture
def host() -> Iterator[Host]:
    with etc_host(sudo_ops=True) as found:
        yield found


def _restore(host: Host, path: str, content: bytes | None, expect: str) -> str:
    return asyncio.run(changer.restore_file(Target("127.0.0.1", host.port, timeout=20.0), ADMIN, path, content,
                                            expect))  # fmt: skip


def test_a_changed_passwd_is_put_back_whole_with_its_mode(host: Host) -> None:
    passwd = host.root / "etc/passwd"
    backup = passwd.read_bytes()
    mode = passwd.stat().st_mode
    with passwd.open("ab") as out:
        out.write(b"intruder:x:0:0::/root:/bin/bash\n")  # a second uid 0 added after the backup
    after = _restore(host, "/etc/passwd", backup, digest_of(passwd.read_bytes()))
    assert passwd.read_bytes() == backup and after == digest_of(backup)
    assert passwd.stat().st_mode == mode and not (host.root / "etc/passwd.handover-restore").exists()


def test_a_file_changed_since_the_preview_is_not_touched(host: Host) -> None:
    group = host.root / "etc/group"
    now = group.read_bytes()
    with pytest.raises(GatherError) as caught:
        _restore(host, "/etc/group", b"root:x:0:\n", digest_of(b"what the preview saw"))
    assert caught.value.status is Status.REFUSED and "重新预览" in caught.value.reason_zh
    assert group.read_bytes() == now


def test_a_sudoers_file_visudo_refuses_is_not_written(host: Host) -> None:
    sudoers = host.root / "etc/sudoers"
    now = sudoers.read_bytes()
    with pytest.raises(GatherError) as caught:
        _restore(host, "/etc/sudoers", b"this is not sudoers syntax ((\n", digest_of(now))
    assert "visudo" in caught.value.reason_zh and "未写入" in caught.value.reason_zh
    assert sudoers.read_bytes() == now and not (host.root / "etc/sudoers.handover-restore").exists()


def test_a_sudoers_d_file_added_since_the_backup_is_deleted_and_one_removed_comes_back(host: Host) -> None:
    added = host.root / "etc/sudoers.d/zz-added"
    added.write_text("opsuser ALL=(ALL) NOPASSWD: ALL\n")
    assert _restore(host, "/etc/sudoers.d/zz-added", None, digest_of(added.read_bytes())) == ""
    assert not added.exists()
    content = b"opsuser ALL=(root) /usr/bin/systemctl restart trade\n"
    after = _restore(host, "/etc/sudoers.d/ops", content, "")
    back = host.root / "etc/sudoers.d/ops"
    assert back.read_bytes() == content and oct(back.stat().st_mode & 0o777) == "0o440"
    assert after == "sha256:" + hashlib.sha256(content).hexdigest()


def test_only_permission_files_are_written_and_main_files_never_deleted(host: Host) -> None:
    with pytest.raises(ValueError):
        _restore(host, "/etc/crontab", b"x", "")
    with pytest.raises(ValueError):
        _restore(host, "/etc/sudoers.d/../crontab", b"x", "")
    with pytest.raises(ValueError):
        _restore(host, "/etc/sudoers.d/..", b"x", "")
    with pytest.raises(ValueError):
        _restore(host, "/home/../etc/.ssh/authorized_keys", b"x", "")
    with pytest.raises(ValueError):
        _restore(host, "/etc/passwd", None, "")
