"""The key keeper: the one place where the vault's master key exists whole, in memory only.

Like ssh-agent, it is a small process (``handover serve`` starts it; ``handover vault keeper`` runs it alone)
listening on a Unix socket in the data folder, mode 0600, that answers only to processes of its own user
(checked with ``SO_PEERCRED``). Every gunicorn worker and task worker asks it to wrap and unwrap data keys;
the master key never leaves it. Shares entered during an unseal ceremony accumulate here too, never in the
database, so two people at two browsers (two worker processes) take part in one ceremony. When the keeper
stops, the vault is sealed.

``LocalKeeper`` is the state and its rules; ``serve`` puts one behind the socket; ``RemoteKeeper`` is the
client with the same methods. Where no socket exists (tests, a one-shot command) a process uses a
``LocalKeeper`` of its own. This module imports no Django.

A ceremony has a nonce. The first share starts one (no nonce given) and every later share must carry the
nonce of the ceremony it joins, so a page left open from an earlier ceremony, or a second ceremony started
at another desk, cannot slip a share into this one.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import hmac
import json
import os
import secrets
import signal
import socket
import socketserver
import struct
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from handover.vault.crypto import envelope, shamir
from handover.vault.crypto.envelope import SealedSecret
from handover.vault.crypto.errors import DecryptionError, ShareError

MAX_REQUEST = 1 << 20
SOCKET_NAME = "vault-keeper.sock"


class KeeperError(Exception):
    """A refusal by the keeper; ``code`` is stable, the message never carries key or share material."""

    code = "keeper"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Sealed(KeeperError):
    code = "sealed"


class CeremonyMismatch(KeeperError):
    code = "ceremony_mismatch"


class KeyMismatch(KeeperError):
    code = "key_mismatch"


class Unreachable(KeeperError):
    code = "unreachable"


_ERRORS: dict[str, type[KeeperError]] = {
    cls.code: cls for cls in (KeeperError, Sealed, CeremonyMismatch, KeyMismatch, Unreachable)
}


@dataclass(frozen=True)
class Params:
    """What the vault's one configuration row says about its master key (nothing secret)."""

    set_id: str
    threshold: int
    check_value: str
    cipher_name: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> Params:
        return cls(
            set_id=str(data["set_id"]),
            threshold=int(data["threshold"]),
            check_value=str(data["check_value"]),
            cipher_name=str(data["cipher_name"]),
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


class LocalKeeper:
    """The keeper's state: the master key when unsealed, the ceremony in progress, a rotation pending."""

    is_remote = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._master: bytes | None = None
        self._params: Params | None = None
        self._nonce: str | None = None
        self._ceremony_params: Params | None = None
        self._shares: dict[int, shamir.Share] = {}
        self._pending: tuple[bytes, Params] | None = None

    # -- state -------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Sealed or not, for which key (its check value), and the ceremony in progress."""
        with self._lock:
            return {
                "sealed": self._master is None,
                "check_value": self._params.check_value if self._params else "",
                "nonce": self._nonce or "",
                "entered": sorted(self._shares),
                "threshold": self._ceremony_params.threshold if self._ceremony_params else 0,
            }

    def load(self, master_key: bytes, params: Params) -> None:
        """Hold ``master_key`` (at ``init``, in the process that made it); never offered over the socket."""
        self._require_check(master_key, params)
        with self._lock:
            self._master, self._params = master_key, params
            self._clear_ceremony()

    def seal(self) -> None:
        """Forget the master key, any ceremony in progress and any pending rotation."""
        with self._lock:
            self._master = self._params = self._pending = None
            self._clear_ceremony()

    def reset_ceremony(self) -> None:
        with self._lock:
            self._clear_ceremony()

    def _clear_ceremony(self) -> None:
        self._nonce, self._ceremony_params, self._shares = None, None, {}

    # -- unseal ------------------------------------------------------------------------------------
    def submit_share(self, share_text: str, nonce: str, params: Params) -> dict[str, Any]:
        """Add one share to the ceremony ``nonce`` ('' starts one); unseal when the threshold is reached.

        Returns the share's number, the ceremony's nonce, the numbers entered and whether it is now unsealed.
        """
        try:
            share = shamir.Share.decode(share_text)
        except ShareError as exc:
            raise KeeperError(str(exc), code=exc.code) from None
        with self._lock:
            if self._master is not None:
                raise KeeperError("The vault is already unsealed.", code="already_unsealed")
            self._check_share(share, params)
            self._join(nonce, params)
            if share.index in self._shares:
                raise KeeperError(
                    f"Share {share.index} was already entered in this ceremony.", code="share_twice"
                )
            self._shares[share.index] = share
            entered = sorted(self._shares)
            current = self._nonce or ""
            if len(self._shares) < params.threshold:
                return {"index": share.index, "nonce": current, "entered": entered, "unsealed": False}
            shares = list(self._shares.values())
            self._clear_ceremony()
        master = self._combine(shares, params)
        with self._lock:
            self._master, self._params = master, params
        return {"index": share.index, "nonce": current, "entered": entered, "unsealed": True}

    def _join(self, nonce: str, params: Params) -> None:
        if self._nonce is None:
            if nonce:
                raise CeremonyMismatch(
                    "That unseal ceremony has ended (the vault was sealed, unsealed or reset since). "
                    "Reload the page, or run the command again without --nonce, to start a new one."
                )
            self._nonce, self._ceremony_params = secrets.token_hex(8), params
            return
        if not hmac.compare_digest(nonce, self._nonce):
            raise CeremonyMismatch(
                f"Another unseal ceremony is in progress (nonce {self._nonce}, {len(self._shares)} share(s) "
                "entered): join it with its nonce, or seal the vault to reset it."
            )
        if self._ceremony_params != params:
            self._clear_ceremony()
            raise CeremonyMismatch("The vault was set up again during the ceremony; start a new one.")

    @staticmethod
    def _check_share(share: shamir.Share, params: Params) -> None:
        if share.set_label != params.set_id:
            raise KeeperError(
                f"Share {share.index} belongs to another set of shares (set {share.set_label}, "
                f"the vault's is {params.set_id}): it is from before a rekey or from another vault.",
                code="share_other_set",
            )
        if share.threshold != params.threshold:
            raise KeeperError(f"Share {share.index} names another threshold.", code="share_mismatch")

    @staticmethod
    def _combine(shares: list[shamir.Share], params: Params) -> bytes:
        try:
            master = shamir.combine(shares)
        except ShareError as exc:
            raise KeeperError(str(exc), code=exc.code) from None
        LocalKeeper._require_check(master, params)
        return master

    @staticmethod
    def _require_check(master: bytes, params: Params) -> None:
        value = envelope.check_value(master, cipher_name=params.cipher_name).hex()
        if not hmac.compare_digest(value, params.check_value):
            raise KeyMismatch(
                "The shares combine to a key that is not this vault's master key: one of them was "
                "altered. The ceremony is reset; start again with the printed shares."
            )

    # -- use of the master key -------------------------------------------------------------------
    def _key(self, check_value: str) -> bytes:
        with self._lock:
            master, params = self._master, self._params
        if master is None or params is None:
            raise Sealed("The vault is sealed.")
        if not hmac.compare_digest(params.check_value, check_value):
            raise KeyMismatch(
                "The key keeper holds another master key than the database names (the vault was set up "
                "again or rotated elsewhere): seal it and unseal with the current shares."
            )
        return master

    def wrap(self, data_key: bytes, *, record_id: str, cipher_name: str, check_value: str) -> bytes:
        master = self._key(check_value)
        return envelope.wrap_data_key(master, data_key, record_id=record_id, cipher_name=cipher_name)

    def unwrap(self, sealed: SealedSecret, *, record_id: str, check_value: str) -> bytes:
        master = self._key(check_value)
        try:
            return envelope.unwrap_data_key(master, sealed, record_id=record_id)
        except DecryptionError as exc:
            raise KeeperError(str(exc), code=exc.code) from None

    def split(self, *, shares: int, threshold: int, check_value: str) -> list[str]:
        """New shares of the same master key (rekey)."""
        master = self._key(check_value)
        try:
            return [s.encode() for s in shamir.split(master, shares=shares, threshold=threshold)]
        except ShareError as exc:
            raise KeeperError(str(exc), code=exc.code) from None

    # -- rotation ----------------------------------------------------------------------------------
    def rotate_begin(
        self, *, shares: int, threshold: int, cipher_name: str, check_value: str
    ) -> dict[str, Any]:
        """Make a new master key and its shares; it stays pending until ``rotate_commit``."""
        self._key(check_value)
        new_master = envelope.generate_master_key()
        try:
            split = shamir.split(new_master, shares=shares, threshold=threshold)
        except ShareError as exc:
            raise KeeperError(str(exc), code=exc.code) from None
        params = Params(
            set_id=split[0].set_label,
            threshold=threshold,
            check_value=envelope.check_value(new_master, cipher_name=cipher_name).hex(),
            cipher_name=cipher_name,
        )
        with self._lock:
            self._pending = (new_master, params)
        return {"shares": [s.encode() for s in split], "params": asdict(params)}

    def rewrap(self, sealed: SealedSecret, *, record_id: str, check_value: str) -> bytes:
        """``sealed``'s data key wrapped by the pending new master key."""
        master = self._key(check_value)
        with self._lock:
            pending = self._pending
        if pending is None:
            raise KeeperError("No master-key rotation is in progress.", code="no_rotation")
        try:
            return envelope.rewrap(master, pending[0], sealed, record_id=record_id).wrapped_key
        except DecryptionError as exc:
            raise KeeperError(str(exc), code=exc.code) from None

    def rotate_commit(self, *, check_value: str) -> None:
        """Switch to the pending key (called after the database holds the re-wrapped keys)."""
        with self._lock:
            if self._pending is None or self._pending[1].check_value != check_value:
                raise KeeperError("No such master-key rotation is pending.", code="no_rotation")
            self._master, self._params = self._pending
            self._pending = None

    def rotate_abort(self) -> None:
        with self._lock:
            self._pending = None


# -- the socket ------------------------------------------------------------------------------------
def _call(keeper: LocalKeeper, op: str, args: dict[str, Any]) -> Any:
    """Run one request from the socket. ``load`` is deliberately not offered."""
    if op == "status":
        return keeper.status()
    if op == "seal":
        return keeper.seal()
    if op == "reset_ceremony":
        return keeper.reset_ceremony()
    if op == "submit_share":
        return keeper.submit_share(args["share"], args["nonce"], Params.of(args["params"]))
    if op == "wrap":
        return _b64(
            keeper.wrap(
                _unb64(args["data_key"]),
                record_id=args["record_id"],
                cipher_name=args["cipher_name"],
                check_value=args["check_value"],
            )
        )
    if op in ("unwrap", "rewrap"):
        sealed = SealedSecret.from_bytes(_unb64(args["sealed"]))
        method = keeper.unwrap if op == "unwrap" else keeper.rewrap
        return _b64(method(sealed, record_id=args["record_id"], check_value=args["check_value"]))
    if op == "split":
        return keeper.split(
            shares=args["shares"], threshold=args["threshold"], check_value=args["check_value"]
        )
    if op == "rotate_begin":
        return keeper.rotate_begin(**args)
    if op == "rotate_commit":
        return keeper.rotate_commit(check_value=args["check_value"])
    if op == "rotate_abort":
        return keeper.rotate_abort()
    raise KeeperError(f"Unknown keeper operation {op!r}.", code="bad_request")


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        if not _same_user(self.connection):
            return
        line = self.rfile.readline(MAX_REQUEST)
        try:
            request = json.loads(line)
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

    def __init__(self, path: str, keeper: LocalKeeper) -> None:
        self.keeper = keeper
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


def bind(path: Path) -> _Server:
    """The server on ``path``, mode 0600; refuses if a live keeper already answers there."""
    if len(str(path).encode()) > 100:
        raise KeeperError(f"The keeper socket path {path} is too long for a Unix socket (100 bytes at most).")
    if path.exists():
        if RemoteKeeper(path).alive():
            raise KeeperError(f"A key keeper is already running on {path}.", code="running")
        path.unlink()
    old = os.umask(0o177)
    try:
        server = _Server(str(path), LocalKeeper())
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return server


def serve(path: Path, ready: threading.Event | None = None) -> None:
    """Run the keeper on ``path`` until interrupted; the socket is removed on the way out."""
    _no_core_dumps()
    server = bind(path)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (from `handover serve`) unwinds like Ctrl-C, so the socket file is removed.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
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
                sock.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
                reply = sock.makefile("rb").readline(MAX_REQUEST)
        except OSError:
            raise Unreachable(
                f"The key keeper at {self.path} does not answer: restart `handover serve` (or "
                "`handover vault keeper`); the vault is sealed until then."
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

    def split(self, *, shares: int, threshold: int, check_value: str) -> list[str]:
        return list(self._request("split", shares=shares, threshold=threshold, check_value=check_value))

    def rotate_begin(
        self, *, shares: int, threshold: int, cipher_name: str, check_value: str
    ) -> dict[str, Any]:
        return dict(
            self._request(
                "rotate_begin",
                shares=shares,
                threshold=threshold,
                cipher_name=cipher_name,
                check_value=check_value,
            )
        )

    def rewrap(self, sealed: SealedSecret, *, record_id: str, check_value: str) -> bytes:
        return _unb64(
            self._request(
                "rewrap", sealed=_b64(sealed.to_bytes()), record_id=record_id, check_value=check_value
            )
        )

    def rotate_commit(self, *, check_value: str) -> None:
        self._request("rotate_commit", check_value=check_value)

    def rotate_abort(self) -> None:
        self._request("rotate_abort")


Keeper = LocalKeeper | RemoteKeeper


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


if __name__ == "__main__":
    main()
