"""The key keeper's Unix socket: the server (one ``LocalKeeper`` behind it) and the client ``RemoteKeeper``,
which has the same methods. One JSON request per connection; bytes travel as base64."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hmac
import json
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from handover.vault.crypto.envelope import SealedSecret
from handover.vault.crypto.errors import DecryptionError
from handover.vault.keeper.secret import caller_secret
from handover.vault.keeper.state import (
    _ERRORS,
    KeeperError,
    LocalKeeper,
    Params,
    Unauthenticated,
    Unreachable,
    _b64,
    _unb64,
)

MAX_REQUEST = 1 << 20


# What a caller may ask without the per-start secret: nothing here uses the master key without shares.
_OPEN = frozenset({"status", "seal", "reset_ceremony", "submit_share", "quorum_submit"})


def _call(keeper: LocalKeeper, op: str, args: dict[str, Any]) -> Any:
    """Run one request from the socket. ``load`` is deliberately not offered, and nothing returns the
    master key; new shares come only out of a quorum of current ones (``quorum_submit``)."""
    if op == "status":
        return keeper.status()
    if op == "seal":
        return keeper.seal()
    if op == "reset_ceremony":
        return keeper.reset_ceremony()
    if op == "submit_share":
        return keeper.submit_share(args["share"], args["nonce"], Params.of(args["params"]))
    if op == "quorum_submit":
        return keeper.quorum_submit(
            args["share"],
            args["nonce"],
            Params.of(args["params"]),
            purpose=args["purpose"],
            shares=int(args["shares"]),
            threshold=int(args["threshold"]),
        )
    if op == "wrap":
        return _b64(
            keeper.wrap(
                _unb64(args["data_key"]),
                record_id=args["record_id"],
                cipher_name=args["cipher_name"],
                check_value=args["check_value"],
            )
        )
    if op == "unwrap":
        sealed = SealedSecret.from_bytes(_unb64(args["sealed"]))
        return _b64(keeper.unwrap(sealed, record_id=args["record_id"], check_value=args["check_value"]))
    if op == "rewrap":
        sealed = SealedSecret.from_bytes(_unb64(args["sealed"]))
        return _b64(
            keeper.rewrap(
                sealed, record_id=args["record_id"], check_value=args["check_value"], session=args["session"]
            )
        )
    if op == "rotate_commit":
        return keeper.rotate_commit(check_value=args["check_value"], session=args["session"])
    if op == "rotate_abort":
        return keeper.rotate_abort(session=args["session"])
    raise KeeperError(f"Unknown keeper operation {op!r}.", code="bad_request")


def _authenticate(server: _Server, op: str, given: Any) -> None:
    """The per-start secret, for every operation that uses the master key (docs/vault.md)."""
    if op in _OPEN:
        return
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), server.secret.encode()):
        raise Unauthenticated(
            "The key keeper serves only the processes `handover serve` started (they hold its per-start "
            "secret); this one does not, so it may not use the master key."
        )


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        if not _same_user(self.connection):
            return
        line = self.rfile.readline(MAX_REQUEST)
        try:
            request = json.loads(line)
            _authenticate(self.server, request["op"], request.get("auth"))
            result: dict[str, Any] = {
                "ok": True,
                "result": _call(self.server.keeper, request["op"], request["args"]),
            }
        except KeeperError as exc:
            result = {"ok": False, "code": exc.code, "message": exc.message}
        except DecryptionError as exc:
            result = {"ok": False, "code": exc.code, "message": str(exc)}
        except (ValueError, KeyError, TypeError):
            result = {"ok": False, "code": "bad_request", "message": "The keeper could not read the request."}
        self.wfile.write(json.dumps(result).encode() + b"\n")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, keeper: LocalKeeper, secret: str) -> None:
        self.keeper = keeper
        self.secret = secret
        super().__init__(path, _Handler)


def _same_user(connection: socket.socket) -> bool:
    """Only processes of the keeper's own user may talk to it (the socket's mode says so too)."""
    creds = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def _no_core_dumps() -> None:
    """No core file and no ptrace by other processes of the user (Linux PR_SET_DUMPABLE = 0)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)


def bind(path: Path, secret: str) -> _Server:
    """The server on ``path``, mode 0600; refuses if a live keeper already answers there, or if it was
    given no caller secret (then nobody could use it, or anyone could)."""
    if len(secret) < 32:
        raise KeeperError(
            "The key keeper was given no caller secret: start it with `handover serve`, or give it (and "
            "every process that uses it) the same HANDOVER_VAULT_KEEPER_TOKEN of 32 characters or more."
        )
    if len(str(path).encode()) > 100:
        raise KeeperError(f"The keeper socket path {path} is too long for a Unix socket (100 bytes at most).")
    if path.exists():
        if RemoteKeeper(path).alive():
            raise KeeperError(f"A key keeper is already running on {path}.", code="running")
        path.unlink()
    old = os.umask(0o177)
    try:
        server = _Server(str(path), LocalKeeper(), secret)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return server


def serve(path: Path, ready: threading.Event | None = None) -> None:
    """Run the keeper on ``path`` until interrupted; the socket is removed on the way out."""
    _no_core_dumps()
    server = bind(path, caller_secret())
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (from `handover serve`) stops the loop, so the socket file is removed. The handler only asks
        # for the stop, from a thread: an exception raised in a handler can surface inside a finalizer, where
        # Python swallows it, and the keeper ran on (seen as a hung teardown in tests/vault/test_keeper.py).
        signal.signal(
            signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start()
        )
    if ready is not None:
        ready.set()
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class RemoteKeeper:
    """The client: the same methods as ``LocalKeeper`` (but ``load``), one connection per call."""

    is_remote = True

    def __init__(self, path: Path) -> None:
        self.path = path

    def alive(self) -> bool:
        try:
            self.status()
        except KeeperError:
            return False
        return True

    def _request(self, op: str, **args: Any) -> Any:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(str(self.path))
                request = {"op": op, "args": args, "auth": caller_secret()}
                sock.sendall(json.dumps(request).encode() + b"\n")
                reply = sock.makefile("rb").readline(MAX_REQUEST)
        except OSError:
            raise Unreachable(
                f"The key keeper is unavailable (nothing answers at {self.path}): `handover serve` restarts "
                "it or stops; the vault is sealed until it runs and is unsealed again."
            ) from None
        if not reply:
            raise Unreachable(f"The key keeper at {self.path} closed the connection without answering.")
        answer = json.loads(reply)
        if not answer["ok"]:
            raise _ERRORS.get(answer["code"], KeeperError)(answer["message"], code=answer["code"])
        return answer["result"]

    def status(self) -> dict[str, Any]:
        return dict(self._request("status"))

    def seal(self) -> None:
        self._request("seal")

    def reset_ceremony(self) -> None:
        self._request("reset_ceremony")

    def submit_share(self, share_text: str, nonce: str, params: Params) -> dict[str, Any]:
        return dict(self._request("submit_share", share=share_text, nonce=nonce, params=asdict(params)))

    def wrap(self, data_key: bytes, *, record_id: str, cipher_name: str, check_value: str) -> bytes:
        return _unb64(
            self._request(
                "wrap",
                data_key=_b64(data_key),
                record_id=record_id,
                cipher_name=cipher_name,
                check_value=check_value,
            )
        )

    def unwrap(self, sealed: SealedSecret, *, record_id: str, check_value: str) -> bytes:
        return _unb64(
            self._request(
                "unwrap", sealed=_b64(sealed.to_bytes()), record_id=record_id, check_value=check_value
            )
        )

    def quorum_submit(
        self, share_text: str, nonce: str, params: Params, *, purpose: str, shares: int, threshold: int
    ) -> dict[str, Any]:
        return dict(
            self._request(
                "quorum_submit",
                share=share_text,
                nonce=nonce,
                params=asdict(params),
                purpose=purpose,
                shares=shares,
                threshold=threshold,
            )
        )

    def rewrap(self, sealed: SealedSecret, *, record_id: str, check_value: str, session: str) -> bytes:
        return _unb64(
            self._request(
                "rewrap",
                sealed=_b64(sealed.to_bytes()),
                record_id=record_id,
                check_value=check_value,
                session=session,
            )
        )

    def rotate_commit(self, *, check_value: str, session: str) -> None:
        self._request("rotate_commit", check_value=check_value, session=session)

    def rotate_abort(self, *, session: str) -> None:
        self._request("rotate_abort", session=session)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Hold the vault's master key in memory, on a Unix socket.")
    parser.add_argument("--socket", required=True, type=Path)
    options = parser.parse_args(argv)
    try:
        serve(options.socket)
    except KeeperError as exc:
        sys.exit(f"handover vault keeper: {exc.message}")
    except KeyboardInterrupt:
        pass
