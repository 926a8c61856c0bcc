"""Change and verify a Linux account's password over SSH (第二十六条第2项; issue 15's Linux platform).

``change`` opens one SSH session as the administrator (root; the target's credential) and runs ``chpasswd
-e`` (as root, or under ``sudo -n`` for a sudoer) with ``account:$6$…`` on standard input: the hash is
computed here (``sha512crypt``), so the new password itself never leaves this process, and nothing secret is
ever in a command line (a target's process list or sshd log shows only ``chpasswd -e``). ``snapshot`` reads
what must not change (the account's passwd line, its shadow aging fields, its groups, its sudo rules' files'
digests, its keys' digest) so that a caller can compare before and after. The verification ladder:
``shadow_matches`` (the stored verifier is the new secret's hash: the shadow line read as root) and
``login_works`` (a fresh SSH password login as the account itself). Failures are ``GatherError`` with a
status and a reason in both languages, never the secret.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from dataclasses import dataclass

import asyncssh

from handover.connectors.change.sha512crypt import sha512_crypt, verify
from handover.connectors.errors import GatherError, Status
from handover.connectors.linux.ssh import _options
from handover.connectors.manifest import Credential, Target

NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}\$?$", re.I)
AS_ROOT = 'if [ "$(id -u)" = 0 ]; then exec {cmd}; else exec sudo -n {cmd}; fi'


@dataclass(frozen=True)
class Snapshot:
    """What the change must leave as it was: everything about the account but its password hash."""

    passwd: str  # the passwd line
    aging: str  # the shadow line's fields 3–9 (last change excepted: chpasswd sets it)
    groups: str  # `id -Gn`
    sudo: str  # digest of /etc/sudoers and /etc/sudoers.d/*
    keys: str  # digest of the account's authorized_keys files


def _where(target: Target) -> str:
    return f"{target.host}:{target.port}"


def _check_name(account: str) -> None:
    if not NAME.match(account):
        raise ValueError(f"not a Linux account name: {account!r}")


async def _run(target: Target, credential: Credential, command: str, stdin: str = "") -> str:
    where = _where(target)
    try:
        async with asyncio.timeout(target.timeout * 3):
            async with asyncssh.connect(target.host, target.port, **_options(target, credential)) as conn:
                result = await conn.run(command, input=stdin, check=False, encoding="utf-8")
    except TimeoutError:
        raise GatherError(
            Status.TIMEOUT, f"{where}: no answer within the timeout", f"{where}：超时未响应"
        ) from None
    except asyncssh.PermissionDenied:
        raise GatherError(
            Status.AUTH_FAILED, f"{where}: the login {credential.username!r} was refused",
            f"{where}：账户 {credential.username} 登录被拒绝",
        ) from None  # fmt: skip
    except asyncssh.HostKeyNotVerifiable:
        raise GatherError(
            Status.HOST_KEY_CHANGED, f"{where}: the host key differs from the one recorded",
            f"{where}：主机密钥与记录不符",
        ) from None  # fmt: skip
    except (OSError, asyncssh.Error) as exc:
        raise GatherError(Status.UNREACHABLE, f"{where}: cannot connect ({type(exc).__name__})",
                          f"{where}：无法连接（{type(exc).__name__}）") from None  # fmt: skip
    if result.exit_status != 0:
        said = str(result.stderr or "").strip().splitlines()[-1:] or [""]
        raise GatherError(
            Status.REFUSED, f"{where}: the command failed (exit {result.exit_status}: {said[0][:200]})",
            f"{where}：命令执行失败（退出码 {result.exit_status}：{said[0][:200]}）",
        )  # fmt: skip
    return str(result.stdout or "")


async def change(target: Target, admin: Credential, account: str, new_secret: str) -> None:
    """Set ``account``'s password to ``new_secret`` (its hash only crosses the wire, on stdin)."""
    _check_name(account)
    line = f"{account}:{sha512_crypt(new_secret)}\n"
    await _run(target, admin, AS_ROOT.format(cmd="chpasswd -e"), stdin=line)


async def shadow_line(target: Target, admin: Credential, account: str) -> str:
    """The account's shadow line as root reads it ('' when there is none)."""
    _check_name(account)
    command = AS_ROOT.format(cmd=f"getent shadow {shlex.quote(account)}")
    try:
        return (await _run(target, admin, command)).strip()
    except GatherError as exc:
        if exc.status is Status.REFUSED and "exit 2" in exc.reason_en:  # getent: no such key
            return ""
        raise


async def shadow_matches(target: Target, admin: Credential, account: str, secret: str) -> bool:
    """Rung 1: the stored verifier is ``secret``'s (``$6$`` hashes checked here; others cannot be)."""
    fields = (await shadow_line(target, admin, account)).split(":")
    return len(fields) > 1 and verify(secret, fields[1])


async def login_works(target: Target, account: str, secret: str) -> bool:
    """Rung 2: a fresh SSH password login as the account itself succeeds (and runs ``true``)."""
    try:
        await _run(target, Credential(account, secret), "true")
    except GatherError as exc:
        if exc.status is Status.AUTH_FAILED:
            return False
        raise
    return True


async def snapshot(target: Target, admin: Credential, account: str) -> Snapshot:
    """Everything about ``account`` the change must not touch (read as root in one session)."""
    _check_name(account)
    quoted = shlex.quote(account)
    script = (
        f"getent passwd {quoted}; echo '--'; getent shadow {quoted} | cut -d: -f1,4-9; echo '--'; "
        f"id -Gn {quoted}; echo '--'; cat /etc/sudoers /etc/sudoers.d/* 2>/dev/null | sha256sum; echo '--'; "
        f'home=$(getent passwd {quoted} | cut -d: -f6); cat "$home/.ssh/authorized_keys" '
        f'"$home/.ssh/authorized_keys2" 2>/dev/null | sha256sum'
    )
    out = await _run(target, admin, AS_ROOT.format(cmd="sh -s"), stdin=script)
    parts = [p.strip() for p in out.split("--\n")]
    if len(parts) != 5:
        raise GatherError(Status.REFUSED, f"{_where(target)}: the account's state could not be read",
                          f"{_where(target)}：无法读取账户状态")  # fmt: skip
    return Snapshot(parts[0], parts[1], parts[2], parts[3], parts[4])
