"""The key keeper's state and rules, free of sockets: the master key when unsealed, the ceremony in
progress, a rotation pending. ``LocalKeeper`` is used as is by a process that runs no keeper process, and
behind the socket by the keeper process (``handover.vault.keeper.server``)."""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from handover.vault.crypto import envelope, shamir
from handover.vault.crypto.envelope import SealedSecret
from handover.vault.crypto.errors import DecryptionError, ShareError


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


class Unauthenticated(KeeperError):
    code = "unauthenticated"


_ERRORS: dict[str, type[KeeperError]] = {
    cls.code: cls
    for cls in (KeeperError, Sealed, CeremonyMismatch, KeyMismatch, Unreachable, Unauthenticated)
}

# What a data key is unwrapped for: one version of one vault entry (``vault.models.record_id_for``), or one
# sealed blob of verifier files (``vault.models.SealedBlob.record_id``).
RECORD_ID = re.compile(r"vault-entry:[0-9a-f-]{1,64}:v[0-9]{1,9}|vault-blob:[0-9a-f-]{1,64}")
# "verify": k shares of a pending rekey's or rotation's new set, entered back before it becomes current.
QUORUM_PURPOSES = ("rekey", "rotate", "verify")


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
        self._pending: tuple[bytes, Params, str] | None = None
        self._quorum: _Quorum | None = None

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
                "quorum": self._quorum.progress() if self._quorum else {},
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
            self._quorum = None
            self._clear_ceremony()

    def reset_ceremony(self) -> None:
        with self._lock:
            self._clear_ceremony()
            self._quorum = None

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
        """The data key of ``sealed``; only for a request that names the record it is for."""
        if not RECORD_ID.fullmatch(record_id or ""):
            raise KeeperError(
                "An unwrap must name the vault record it is for (vault-entry:<id>:v<number> or vault-blob:<id>).",
                code="no_record",
            )
        master = self._key(check_value)
        try:
            return envelope.unwrap_data_key(master, sealed, record_id=record_id)
        except DecryptionError as exc:
            raise KeeperError(str(exc), code=exc.code) from None

    # -- rekey and rotation: a quorum of the current shares first ----------------------------------
    def quorum_submit(
        self, share_text: str, nonce: str, params: Params, *, purpose: str, shares: int, threshold: int
    ) -> dict[str, Any]:
        """One current share towards a rekey or a rotation (``purpose``); nothing is produced until
        ``params.threshold`` current shares, combined, give the key this keeper holds. Then a rekey
        returns new shares of the same key, a rotation a pending new key's shares and the session that
        alone may re-wrap with it and commit it. The key held is never returned, nor shares of it
        without the quorum.

        ``verify`` takes shares of the *new* set (``params`` the pending set's): done once they combine to
        the key held (a rekey) or to the pending rotation's key, which then returns the rotation's session.
        It produces no share, and a key no quorum minted is never accepted."""
        if purpose not in QUORUM_PURPOSES:
            raise KeeperError(f"Unknown quorum purpose {purpose!r}.", code="bad_request")
        try:
            share = shamir.Share.decode(share_text)
        except ShareError as exc:
            raise KeeperError(str(exc), code=exc.code) from None
        if purpose == "verify":
            self._require_unsealed()
        else:
            self._key(params.check_value)
        self._check_share(share, params)
        self._split(b"\0", shares, threshold)  # the new split's numbers are checked before any share counts
        with self._lock:
            quorum = self._quorum_join(nonce, params, purpose, shares, threshold)
            if share.index in quorum.shares:
                raise KeeperError(
                    f"Share {share.index} was already entered in this ceremony.", code="share_twice"
                )
            quorum.shares[share.index] = share
            progress = {"index": share.index, **quorum.progress(), "done": False}
            if len(quorum.shares) < params.threshold:
                return progress
            self._quorum = None
            master = self._master
        combined = self._combine(list(quorum.shares.values()), params)
        if purpose == "verify":
            return {**progress, "done": True, "session": self._verified(combined, params)}
        if master is None or not hmac.compare_digest(combined, master):
            raise KeyMismatch("The shares entered are not shares of the key this keeper holds.")
        return {**progress, "done": True, **self._quorum_result(quorum, params)}

    def _require_unsealed(self) -> None:
        with self._lock:
            if self._master is None:
                raise Sealed("The vault is sealed.")

    def _verified(self, combined: bytes, params: Params) -> str:
        """'' when ``combined`` is the key held (a rekey's new set), the rotation's session when it is the
        pending rotation's key; else the new shares are not those the quorum made."""
        with self._lock:
            master, pending = self._master, self._pending
        if master is not None and hmac.compare_digest(combined, master):
            return ""
        if pending is not None and hmac.compare_digest(combined, pending[0]) and pending[1] == params:
            return pending[2]
        if pending is None and master is not None:
            raise KeeperError(
                "The new key of that rotation is no longer in the key keeper (it was sealed or restarted "
                "since): cancel the rotation and start it again.",
                code="no_rotation",
            )
        raise KeyMismatch("The shares entered are not shares of the key the rekey or rotation made.")

    def _quorum_join(self, nonce: str, params: Params, purpose: str, shares: int, threshold: int) -> _Quorum:
        quorum = self._quorum
        if quorum is None:
            if nonce:
                raise CeremonyMismatch(
                    "That rekey or rotation ceremony has ended (the vault was sealed or reset since, or it "
                    "completed). Run the command again without --nonce to start a new one."
                )
            self._quorum = _Quorum(secrets.token_hex(8), purpose, shares, threshold, params)
            return self._quorum
        if not hmac.compare_digest(nonce, quorum.nonce):
            raise CeremonyMismatch(
                f"Another {quorum.purpose} ceremony is in progress (nonce {quorum.nonce}, {len(quorum.shares)} "
                "share(s) entered): join it with its nonce, or seal the vault to reset it."
            )
        if (purpose, shares, threshold, params) != (
            quorum.purpose,
            quorum.new_shares,
            quorum.new_threshold,
            quorum.params,
        ):
            raise CeremonyMismatch(
                f"This share names another {purpose} than the ceremony {quorum.nonce} was started for "
                f"({quorum.purpose}, {quorum.new_threshold} of {quorum.new_shares})."
            )
        return quorum

    def _quorum_result(self, quorum: _Quorum, params: Params) -> dict[str, Any]:
        master = self._key(params.check_value)
        if quorum.purpose == "rekey":
            split = self._split(master, quorum.new_shares, quorum.new_threshold)
            return {"shares": [s.encode() for s in split], "set_id": split[0].set_label}
        new_master = envelope.generate_master_key()
        split = self._split(new_master, quorum.new_shares, quorum.new_threshold)
        new = Params(
            set_id=split[0].set_label,
            threshold=quorum.new_threshold,
            check_value=envelope.check_value(new_master, cipher_name=params.cipher_name).hex(),
            cipher_name=params.cipher_name,
        )
        session = secrets.token_hex(16)
        with self._lock:
            self._pending = (new_master, new, session)
        return {"shares": [s.encode() for s in split], "params": asdict(new), "session": session}

    @staticmethod
    def _split(master: bytes, shares: int, threshold: int) -> list[shamir.Share]:
        try:
            return shamir.split(master, shares=shares, threshold=threshold)
        except ShareError as exc:
            raise KeeperError(str(exc), code=exc.code) from None

    def _pending_for(self, session: str) -> tuple[bytes, Params, str]:
        with self._lock:
            pending = self._pending
        if pending is None or not hmac.compare_digest(pending[2], session or ""):
            raise KeeperError("No such master-key rotation is in progress.", code="no_rotation")
        return pending

    def rewrap(self, sealed: SealedSecret, *, record_id: str, check_value: str, session: str) -> bytes:
        """``sealed``'s data key wrapped by the pending new master key (the rotation ``session`` only)."""
        master = self._key(check_value)
        pending = self._pending_for(session)
        try:
            return envelope.rewrap(master, pending[0], sealed, record_id=record_id).wrapped_key
        except DecryptionError as exc:
            raise KeeperError(str(exc), code=exc.code) from None

    def rotate_commit(self, *, check_value: str, session: str) -> None:
        """Switch to the pending key (called after the database holds the re-wrapped keys)."""
        pending = self._pending_for(session)
        with self._lock:
            if self._pending is not pending or pending[1].check_value != check_value:
                raise KeeperError("No such master-key rotation is pending.", code="no_rotation")
            self._master, self._params = pending[0], pending[1]
            self._pending = None

    def rotate_abort(self, *, session: str) -> None:
        with self._lock:
            if self._pending is not None and hmac.compare_digest(self._pending[2], session or ""):
                self._pending = None


@dataclass
class _Quorum:
    """A rekey or rotation ceremony in progress: the current shares entered so far and what they are for."""

    nonce: str
    purpose: str
    new_shares: int
    new_threshold: int
    params: Params
    shares: dict[int, shamir.Share] = field(default_factory=dict)

    def progress(self) -> dict[str, Any]:
        return {
            "nonce": self.nonce,
            "purpose": self.purpose,
            "entered": sorted(self.shares),
            "threshold": self.params.threshold,
        }
