"""Live gathering over SSH (asyncssh): one connection per host and one command, which runs the collection
script (``linux_collect.sh``, sent on stdin) and reads its stream with the same code as an offline import.

Round trips: the connection and login, then one ``exec`` of the script; ``sshd -T``, ``lastb`` and
``faillock`` run under ``sudo -n`` when the gathering account is not root and sudo needs no password.
The secret goes only to asyncssh's authentication: never in argv, a log line or an exception text.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncssh

from handover.connectors.errors import GatherError, ParseError, Status
from handover.connectors.linux.inventory import build
from handover.connectors.linux.source import collect_script, from_stream
from handover.connectors.manifest import Credential, Target
from handover.connectors.model import Inventory

# Run the script as root when we are root, else under sudo -n when it needs no password, else as we are.
REMOTE_COMMAND = (
    'if [ "$(id -u)" = 0 ]; then exec sh -s; '
    "elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then exec sudo -n sh -s; "
    "else exec sh -s; fi"
)
ALGORITHM_OPTIONS = ("kex_algs", "encryption_algs", "mac_algs", "server_host_key_algs", "signature_algs")
MAX_STREAM_BYTES = 256 << 20


def _where(target: Target) -> str:
    return f"{target.host}:{target.port}"


def _options(target: Target, credential: Credential) -> dict[str, object]:
    options: dict[str, object] = {
        "username": credential.username,
        "config": None,  # never ~/.ssh/config of whoever runs the task
        "agent_path": None,
        "connect_timeout": target.timeout,
        "login_timeout": target.timeout,
        "keepalive_interval": 0,
    }
    if credential.kind == "private_key":
        try:
            options["client_keys"] = [asyncssh.import_private_key(credential.secret)]
        except (asyncssh.KeyImportError, ValueError):
            raise GatherError(
                Status.AUTH_FAILED, f"{_where(target)}: the private key in the vault cannot be read",
                f"{_where(target)}：保管库中的私钥无法读取",
            ) from None  # fmt: skip
        options["password"] = None
    else:
        options["client_keys"] = None
        options["password"] = credential.secret
        options["preferred_auth"] = "password,keyboard-interactive"
    if target.known_host_key:
        try:
            known = asyncssh.import_public_key(target.known_host_key)
        except (asyncssh.KeyImportError, ValueError):
            raise GatherError(
                Status.HOST_KEY_CHANGED, f"{_where(target)}: the recorded host key cannot be read",
                f"{_where(target)}：记录的主机密钥无法读取",
            ) from None  # fmt: skip
        options["known_hosts"] = ([known], [], [])
        options["server_host_key_algs"] = [known.get_algorithm()]
    else:
        options["known_hosts"] = None  # first contact: accepted, and reported for the record
    # Legacy algorithms (OpenSSH 5.x, CentOS 6) only when the target names them.
    for name in ALGORITHM_OPTIONS:
        value = target.option(name)
        if value:
            options[name] = [v.strip() for v in value.split(",") if v.strip()]
    return options


async def gather(target: Target, credential: Credential) -> Inventory:
    """The inventory of the host at ``target``, or ``GatherError`` with the status and reason."""
    where = _where(target)
    try:
        async with asyncio.timeout(target.timeout * 3):
            return await _gather(target, credential)
    except GatherError:
        raise
    except TimeoutError:
        raise GatherError(
            Status.TIMEOUT,
            f"{where}: no answer within the target's timeout",
            f"{where}：在设定的超时时间内无响应",
        ) from None
    except asyncssh.PermissionDenied:
        raise GatherError(
            Status.AUTH_FAILED, f"{where}: the account {credential.username!r} was refused (wrong password or key)",
            f"{where}：账户 {credential.username} 登录被拒绝（密码或密钥错误）",
        ) from None  # fmt: skip
    except asyncssh.HostKeyNotVerifiable:
        raise GatherError(
            Status.HOST_KEY_CHANGED,
            f"{where}: the host key differs from the one recorded; check the host before trusting it again",
            f"{where}：主机密钥与记录不符，请先核实主机再重新信任",
        ) from None
    except (ConnectionRefusedError, asyncssh.ConnectionLost, OSError) as exc:
        reason = type(exc).__name__
        raise GatherError(
            Status.UNREACHABLE, f"{where}: cannot connect ({reason})", f"{where}：无法连接（{reason}）"
        ) from None
    except asyncssh.Error as exc:
        raise GatherError(
            Status.REFUSED,
            f"{where}: the SSH session failed ({exc.reason[:200]})",
            f"{where}：SSH 会话失败（{exc.reason[:200]}）",
        ) from None


async def _gather(target: Target, credential: Credential) -> Inventory:
    where = _where(target)
    options = _options(target, credential)
    async with asyncssh.connect(target.host, target.port, **options) as conn:
        options.clear()  # drop our reference to the secret as soon as we are logged in
        host_key = conn.get_server_host_key()
        reported = host_key.export_public_key("openssh").decode("ascii").split()[:2] if host_key else []
        result = await conn.run(
            REMOTE_COMMAND, input=collect_script().encode("utf-8"), encoding=None, check=False
        )
    stdout = result.stdout if isinstance(result.stdout, bytes) else b""
    if len(stdout) > MAX_STREAM_BYTES:
        raise GatherError(
            Status.REFUSED, f"{where}: the collection output is too large", f"{where}：采集输出过大"
        )
    if result.exit_status not in (0, None) or not stdout:
        raise GatherError(
            Status.REFUSED, f"{where}: the collection script failed (exit {result.exit_status})",
            f"{where}：采集脚本执行失败（退出码 {result.exit_status}）",
        )  # fmt: skip
    try:
        source = from_stream(stdout, label=where)
        inventory = build(source, target=where, gathered_at=datetime.now(UTC), host=target.host)
    except ParseError:
        raise
    from dataclasses import replace

    return replace(inventory, host_key=" ".join(reported))
