"""Change and verify a Linux account's password over SSH (第二十六条第2项; issue 15's Linux platform).

``change`` opens one SSH session as the administrator (root; the target's credential) and runs ``chpasswd
-e`` (as root, or under ``sudo -n`` for a sudoer) with ``account:$6$…`` on standard input: the hash is
computed here (``sha512crypt``), so the new password itself never leaves this process, and nothing secret is
ever in a command line (a target's process list or sshd log shows only ``chpasswd -e``). ``snapshot`` reads
what must not change (the account's passwd line, its shadow aging fields, its groups, its sudo rules' files'
digests, its keys' digest) so that a caller can compare before and after. The verification ladder:
``shadow_matches`` (the stored verifier is the new secret's hash: the shadow line read as root) and
``login_works`` (a fresh SSH password login as the account itself); where the host's sshd forbids that login
(``direct_login_forbidden``: ``sshd -T`` for the account says PermitRootLogin or PasswordAuthentication no),
``local_login_works`` is the local login the issue asks for instead: ``su`` run by an unprivileged user (so PAM
asks for the password) in a pseudo-terminal, the password typed at its prompt — never an argument, never echoed.
Failures are ``GatherError`` with a status and a reason in both languages, never the secret.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import shlex
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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


@asynccontextmanager
async def _session(target: Target, credential: Credential) -> AsyncIterator[asyncssh.SSHClientConnection]:
    """One SSH session within the target's timeout; its failures as GatherError, never the secret."""
    where = _where(target)
    try:
        async with asyncio.timeout(target.timeout * 3):
            async with asyncssh.connect(target.host, target.port, **_options(target, credential)) as conn:
                yield conn
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


async def _run(target: Target, credential: Credential, command: str, stdin: str | bytes = "") -> str:
    where = _where(target)
    encoding = None if isinstance(stdin, bytes) else "utf-8"
    async with _session(target, credential) as conn:
        result = await conn.run(command, input=stdin, check=False, encoding=encoding)
    stdout, stderr = result.stdout, result.stderr
    if isinstance(stdout, bytes):
        stdout = stdout.decode("utf-8", "replace")
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    if result.exit_status != 0:
        said = str(stderr or "").strip().splitlines()[-1:] or [""]
        raise GatherError(
            Status.REFUSED, f"{where}: the command failed (exit {result.exit_status}: {said[0][:200]})",
            f"{where}：命令执行失败（退出码 {result.exit_status}：{said[0][:200]}）",
        )  # fmt: skip
    return str(stdout or "")


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


stored_matches = shadow_matches  # the name every changer shares (connectors/change/)


SU_PROMPT = re.compile(rb"(?i)password[^\n]*:\s*$")
# As root (or sudo), su run by an unprivileged user, so that PAM asks for the password (root's su asks nothing).
SU = "env LC_ALL=C runuser -u nobody -- su -c true {account}"
FORBIDDING = {"permitrootlogin": {"no", "prohibit-password", "without-password", "forced-commands-only"}}


async def direct_login_forbidden(target: Target, admin: Credential, account: str) -> bool:
    """Whether the host's sshd refuses a password login as ``account`` by its configuration (``sshd -T`` with
    the account's Match context): then the fresh login is a local one (``local_login_works``). False when the
    configuration cannot be read (not root, no sshd there): the network login is tried as before."""
    _check_name(account)
    query = f"sshd -T -C user={account},host=localhost,addr=127.0.0.1"
    try:
        said = await _run(target, admin, AS_ROOT.format(cmd=query))
    except GatherError as exc:
        if exc.status is Status.REFUSED:
            return False
        raise
    config: dict[str, str] = {}
    for line in said.lower().splitlines():  # a keyword may come on several lines (one a pattern): joined
        key, _sep, value = line.partition(" ")
        config[key] = f"{config[key]} {value}" if key in config else value
    if config.get("passwordauthentication") == "no" and config.get("kbdinteractiveauthentication") != "yes":
        return True
    name = account.lower()

    def named(patterns: str) -> bool:  # DenyUsers/AllowUsers: user or user@host patterns with * and ?
        return any(fnmatch.fnmatchcase(name, p.split("@", 1)[0]) for p in patterns.split())

    if named(config.get("denyusers", "")) or ("allowusers" in config and not named(config["allowusers"])):
        return True
    return account == "root" and config.get("permitrootlogin", "yes") in FORBIDDING["permitrootlogin"]


async def local_login_works(target: Target, admin: Credential, account: str, secret: str) -> bool:
    """The local login where a direct one is forbidden: ``su -c true account`` in a pseudo-terminal over the
    administrator's session, answering su's password prompt with ``secret`` (typed, not echoed: su turns echo
    off). True when su ran ``true``; False when it refused the password or never asked for one."""
    _check_name(account)
    async with _session(target, admin) as conn:
        process = await conn.create_process(
            AS_ROOT.format(cmd=SU.format(account=shlex.quote(account))), term_type="dumb", encoding=None
        )
        seen = b""
        while not SU_PROMPT.search(seen) and len(seen) < 4096:
            chunk = await process.stdout.read(256)
            if not chunk:
                break
            seen += chunk
        if not SU_PROMPT.search(seen):
            process.close()
            return False
        process.stdin.write(secret.encode("utf-8") + b"\n")
        done = await process.wait(check=False)
    return done.exit_status == 0


# --- the exact previous verifier (E01's revert, 第二十八条第1项) ---------------------------------------------


async def stored_verifier(target: Target, admin: Credential, account: str) -> str | None:
    """The account's shadow hash field as it is (secret material: the caller seals or drops it); None when the
    account has no shadow line."""
    fields = (await shadow_line(target, admin, account)).split(":")
    return fields[1] if len(fields) > 1 else None


def verifier_holds(verifier: str, secret: str) -> bool:
    """Whether a shadow hash field is ``secret``'s (``$6$`` only: another scheme cannot be checked here)."""
    return verify(secret, verifier)


async def set_verifier(target: Target, admin: Credential, account: str, verifier: str) -> None:
    """Put ``verifier`` back as the account's hash field: ``chpasswd -e`` with it on standard input."""
    _check_name(account)
    if not verifier or any(c in verifier for c in ":\n\r\0"):
        raise ValueError("not a shadow hash field")
    await _run(target, admin, AS_ROOT.format(cmd="chpasswd -e"), stdin=f"{account}:{verifier}\n")


async def login_works(target: Target, account: str, secret: str, *, admin: Credential | None = None) -> bool:
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


# --- 停用 (第二十六条第3项 A: disable, watch, then delete or restore; 第二十八条第3项: restore exactly) ----------

EXPIRE = re.compile(r"^\d{0,6}$")


async def lock_state(target: Target, admin: Credential, account: str) -> dict[str, str]:
    """What a disable changes and its restore must bring back: whether the password is locked ("!" before the
    hash) and the account's expiry (shadow field 8, days since 1970; "" none). Never the hash itself."""
    fields = (await shadow_line(target, admin, account)).split(":")
    if len(fields) < 9:
        raise GatherError(Status.REFUSED, f"{_where(target)}: no account {account}",
                          f"{_where(target)}：没有账户 {account}")  # fmt: skip
    return {"locked": "yes" if fields[1].startswith("!") else "no", "expire": fields[7]}


DISABLED = {"locked": "yes", "expire": "1"}  # `usermod -L -e 1`: password locked, expired on 1970-01-02


def disabled(state: dict[str, str]) -> bool:
    """Whether ``state`` is what ``disable`` leaves."""
    return state.get("locked") == "yes" and state.get("expire") == "1"


async def disable(target: Target, admin: Credential, account: str) -> None:
    """Lock the password and expire the account (no login by password, key or su), as root."""
    _check_name(account)
    await _run(target, admin, AS_ROOT.format(cmd=f"usermod -L -e 1 {shlex.quote(account)}"))


async def enable(target: Target, admin: Credential, account: str, before: dict[str, str]) -> None:
    """Bring back exactly ``before`` (a ``lock_state``): unlock only what was not locked, the expiry as it was."""
    _check_name(account)
    expire = before.get("expire", "")
    if not EXPIRE.match(expire) or before.get("locked") not in ("yes", "no"):
        raise ValueError("not a lock state read by lock_state")
    quoted = shlex.quote(account)
    if before["locked"] == "no":
        await _run(target, admin, AS_ROOT.format(cmd=f"usermod -U {quoted}"))
    await _run(target, admin, AS_ROOT.format(cmd=f"chage -E {expire or '-1'} {quoted}"))


# --- restoring the permission files (第二十六条第3项: the backup taken before any change) -----------------

RESTORABLE = re.compile(
    r"^/(etc/(passwd|shadow|group|gshadow|sudoers|sudoers\.d/[^/]+|ssh/sshd_config|ssh/sshd_config\.d/[^/]+)"
    r"|([^/\x00]+/)*\.ssh/authorized_keys2?)$"
)
DELETABLE = re.compile(
    r"^/(etc/sudoers\.d/[^/]+|etc/ssh/sshd_config\.d/[^/]+|([^/\x00]+/)*\.ssh/authorized_keys2?)$"
)

# Run as root with the file's new content on stdin; $1 path, $2 its SHA-256 now ("" absent), $3 write|delete.
# Refuses when the file is not as the approved preview saw it, or when visudo refuses a sudoers file; the
# file is replaced by a rename (never half written), keeping its mode and owner; prints the new SHA-256.
RESTORE_SCRIPT = r"""set -eu
p=$1; expect=$2; mode=$3
now=""
if [ -e "$p" ]; then now=$(sha256sum < "$p" | cut -d' ' -f1); fi
if [ "$now" != "$expect" ]; then echo "the file changed since the preview" >&2; exit 4; fi
if [ "$mode" = delete ]; then rm -f -- "$p"; exit 0; fi
t="$p.handover-restore"
umask 077
cat > "$t"
if [ -e "$p" ]; then
  chmod --reference="$p" -- "$t"; chown --reference="$p" -- "$t"
else
  case "$p" in
    /etc/sudoers|/etc/sudoers.d/*) chmod 0440 -- "$t" ;;
    /etc/shadow|/etc/gshadow) chmod 0640 -- "$t"; chgrp shadow -- "$t" 2>/dev/null || true ;;
    */.ssh/authorized_keys*) chmod 0600 -- "$t"; chown --reference="$(dirname -- "$p")" -- "$t" ;;
    *) chmod 0644 -- "$t" ;;
  esac
fi
case "$p" in
  /etc/sudoers|/etc/sudoers.d/*)
    if ! visudo -cq -f "$t" >/dev/null 2>&1; then rm -f -- "$t"; echo "visudo refused the file" >&2; exit 5; fi ;;
esac
mv -f -- "$t" "$p"
sha256sum < "$p" | cut -d' ' -f1
"""


async def restore_file(
    target: Target, admin: Credential, path: str, content: bytes | None, expect: str
) -> str:
    """Put ``content`` back at ``path`` (``None``: delete the file, for one added since the backup), provided
    the file's digest is still ``expect`` (``sha256:…``, or "" for absent). Returns the digest after ("" when
    deleted). The content travels on stdin only; a refusal is a GatherError naming the file."""
    if not RESTORABLE.match(path) or any(part in ("", ".", "..") for part in path.split("/")[1:]):
        raise ValueError(f"not a permission file this restore writes: {path!r}")
    if content is None and not DELETABLE.match(path):
        raise ValueError(f"a restore does not delete {path!r}")
    mode = "delete" if content is None else "write"
    args = f"{shlex.quote(path)} {shlex.quote(expect.removeprefix('sha256:'))} {mode}"
    command = AS_ROOT.format(cmd=f"sh -c {shlex.quote(RESTORE_SCRIPT)} restore {args}")
    try:
        out = await _run(target, admin, command, stdin=content or b"")
    except GatherError as exc:
        if exc.status is Status.REFUSED and "exit 4" in exc.reason_en:
            raise GatherError(
                Status.REFUSED, f"{_where(target)}: {path} changed since the preview: preview again",
                f"{_where(target)}：{path} 在预览之后已变化，请重新预览",
            ) from None  # fmt: skip
        if exc.status is Status.REFUSED and "exit 5" in exc.reason_en:
            raise GatherError(
                Status.REFUSED, f"{_where(target)}: visudo refused the backup of {path}; nothing was written",
                f"{_where(target)}：visudo 拒绝了 {path} 的备份内容，未写入",
            ) from None  # fmt: skip
        raise
    digest = out.strip()
    return f"sha256:{digest}" if digest else ""
