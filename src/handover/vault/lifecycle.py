"""The vault's own life: init, unseal ceremonies, seal, rekey and master-key rotation (DESIGN decision 4).

Which key keeper a process uses is configuration, ``HANDOVER_VAULT_KEEPER``: ``socket`` (the keeper process
on the data folder's socket; ``handover serve`` sets it for every process it starts) or ``in-process`` (this
process's own ``LocalKeeper``: tests, one-shot commands, ``runserver``). A process configured for the socket
never holds a key of its own: when the keeper is gone the vault says "keeper unavailable".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.audit.models import Event, Outcome
from handover.audit.services import event_record
from handover.core import faults
from handover.core.actors import Actor, SystemActor
from handover.core.errors import DomainError, PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.org.selectors import has_capability
from handover.vault import events
from handover.vault.crypto import ciphers, envelope, shamir
from handover.vault.crypto.envelope import SealedSecret
from handover.vault.crypto.errors import ShareError
from handover.vault.keeper import Keeper, KeeperError, LocalKeeper, Params, RemoteKeeper, Sealed, Unreachable
from handover.vault.models import SealedBlob, SecretVersion, VaultConfig

_local = LocalKeeper()


class VaultSealed(DomainError):
    """Something needs a secret while the vault is sealed (or its keeper is gone)."""

    status = 503

    def __init__(self, message: Any = None) -> None:
        super().__init__(
            message
            or _(
                "The vault is sealed: no secret can be stored, used or shown until enough share holders "
                "have entered their shares on the vault page (or with `handover vault unseal`). "
                "Everything else keeps working."
            ),
            code="vault_sealed",
        )


def current_keeper() -> Keeper:
    """The keeper the deployment configured: the socket's (never a fallback), or this process's own."""
    if settings.HANDOVER_VAULT_KEEPER == "socket":
        return RemoteKeeper(settings.HANDOVER_VAULT_SOCKET)
    return _local


def local_keeper() -> LocalKeeper:
    """This process's own keeper (used when no keeper process runs)."""
    return _local


def config_get() -> VaultConfig:
    config = VaultConfig.objects.filter(pk=1).first()
    if config is None:
        raise DomainError(
            _("The vault is not set up yet: run `handover vault init` (or `handover demo`)."),
            code="vault_uninitialised",
        )
    return config


def params_of(config: VaultConfig) -> Params:
    return Params(
        set_id=config.set_id,
        threshold=config.threshold,
        check_value=config.check_value,
        cipher_name=config.cipher_name,
    )


def _keeper_messages() -> dict[str, str]:
    """The keeper (which imports no Django) speaks English; these are its refusals in the user's language."""
    return {
        "ceremony_mismatch": _(
            "This share belongs to another unseal ceremony (the page is out of date, or someone started "
            "another one). Reload the vault page, or see the current nonce with `handover vault status`, "
            "and enter it again."
        ),
        "share_other_set": _(
            "This share is from another set of shares (from before a rekey or a rotation, or of another vault)."
        ),
        "share_twice": _("This share was already entered in this ceremony."),
        "share_checksum": _(
            "This share is mistyped or damaged: its checksum does not match. Compare it with the printed "
            "copy group by group."
        ),
        "share_format": _("This is not a Handover share: a share begins with HOV1-K…-S…."),
        "key_mismatch": _(
            "The shares combine to a key that is not this vault's master key: one of them was altered. "
            "The ceremony is reset; start again with the printed shares."
        ),
        "already_unsealed": _("The vault is already unsealed."),
        "unauthenticated": _(
            "The vault's key keeper does not serve this process: only the processes `handover serve` "
            "started may use the master key."
        ),
        "no_record": _("The key keeper refused an unwrap that does not name its vault record."),
        "no_rotation": _(
            "The new key of that rotation is no longer in the key keeper (it was sealed or restarted since): "
            "cancel the rotation (`handover vault rotate-master --cancel`) and start it again."
        ),
    }


def keeper_error(exc: KeeperError) -> DomainError:
    """The face of a keeper refusal: sealed (or unreachable) is ``VaultSealed``, the rest a ``DomainError``."""
    if isinstance(exc, Sealed):
        return VaultSealed()
    if isinstance(exc, Unreachable):
        return VaultSealed(
            _(
                "The vault's key keeper is unavailable (nothing answers at %(path)s): `handover serve` "
                "restarts it or stops. The vault is sealed until the keeper runs and enough share holders "
                "have entered their shares again."
            )
            % {"path": settings.HANDOVER_VAULT_SOCKET}
        )
    return DomainError(_keeper_messages().get(exc.code, exc.message), code=exc.code)


@dataclass(frozen=True)
class VaultStatus:
    """What the status page and ``handover vault status`` show; nothing secret."""

    initialised: bool
    sealed: bool
    shares: int = 0
    threshold: int = 0
    cipher_name: str = ""
    set_id: str = ""
    key_version: int = 0
    nonce: str = ""
    entered: list[int] = field(default_factory=list)
    keeper_remote: bool = False
    problem: str = ""
    quorum: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, Any] = field(default_factory=dict)


def vault_status() -> VaultStatus:
    """Sealed or unsealed, and the ceremony's progress (which share numbers were entered)."""
    config = VaultConfig.objects.filter(pk=1).first()
    keeper = current_keeper()
    if config is None:
        return VaultStatus(initialised=False, sealed=True, keeper_remote=keeper.is_remote)
    base = VaultStatus(
        initialised=True,
        sealed=True,
        shares=config.shares,
        threshold=config.threshold,
        cipher_name=config.cipher_name,
        set_id=config.set_id,
        key_version=config.key_version,
        keeper_remote=keeper.is_remote,
        pending=_pending_summary(config),
    )
    try:
        state = keeper.status()
    except KeeperError as exc:
        return replace(base, problem=str(keeper_error(exc).message))
    held = state["check_value"]
    if not state["sealed"] and held != config.check_value:
        return replace(base, problem=_("The key keeper holds another master key: seal it and unseal again."))
    return replace(
        base,
        sealed=state["sealed"],
        nonce=state["nonce"],
        entered=list(state["entered"]),
        quorum=dict(state.get("quorum") or {}),
    )


def _pending_summary(config: VaultConfig) -> dict[str, Any]:
    if not config.pending_purpose:
        return {}
    started = Event.objects.filter(action=events.PENDING, after__set_id=config.pending_set_id).order_by(
        "-seq"
    )
    return {
        "started_by": started.values_list("actor_username", flat=True).first() or "",
        "purpose": config.pending_purpose,
        "set_id": config.pending_set_id,
        "shares": config.pending_shares,
        "threshold": config.pending_threshold,
        "since": config.pending_since.isoformat() if config.pending_since else "",
    }


def require_unsealed(keeper: Keeper | None = None) -> tuple[Keeper, VaultConfig]:
    """The keeper and configuration to use a secret with, or ``VaultSealed``."""
    config = config_get()
    keeper = keeper or current_keeper()
    try:
        state = keeper.status()
    except KeeperError as exc:
        raise keeper_error(exc) from None
    if state["sealed"]:
        raise VaultSealed()
    return keeper, config


@dataclass(frozen=True)
class InitResult:
    """The shares to hand out once, and a keeper of this process holding the new key."""

    shares: list[str]
    keeper: LocalKeeper
    config: VaultConfig


def vault_init(*, actor: Actor, shares: int = 5, threshold: int = 3, cipher_name: str = "") -> InitResult:
    """Create the master key, split it ``threshold``-of-``shares``, store only its check value.

    The returned keeper holds the key (this process's own keeper when no keeper process runs, so a
    one-process deployment is unsealed right after init); a running keeper process stays sealed.
    """
    cipher_name = cipher_name or settings.HANDOVER_VAULT_CIPHER
    if cipher_name not in ciphers.CIPHERS:
        raise DomainError(
            _("Unknown vault cipher %(name)s: use aes-256-gcm or sm4-gcm.") % {"name": cipher_name},
            field="cipher",
        )
    master = envelope.generate_master_key()
    try:
        split = shamir.split(master, shares=shares, threshold=threshold)
    except ShareError as exc:
        raise DomainError(str(exc), field="shares") from None
    with transaction.atomic():
        if VaultConfig.objects.select_for_update().filter(pk=1).exists():
            raise DomainError(
                _("The vault is already set up. Use rekey for new shares, or rotate-master for a new key."),
                code="vault_initialised",
            )
        config = VaultConfig.objects.create(
            cipher_name=cipher_name,
            shares=shares,
            threshold=threshold,
            set_id=split[0].set_label,
            check_value=envelope.check_value(master, cipher_name=cipher_name).hex(),
        )
        event_record(
            actor=actor,
            action=events.INIT,
            obj=config,
            after={"shares": shares, "threshold": threshold, "cipher": cipher_name, "set_id": config.set_id},
        )
    keeper = current_keeper()
    holder = keeper if isinstance(keeper, LocalKeeper) else LocalKeeper()
    holder.load(master, params_of(config))
    return InitResult(shares=[s.encode() for s in split], keeper=holder, config=config)


def vault_share_enter(*, actor: Actor, share_text: str, nonce: str) -> dict[str, Any]:
    """One holder's share for the ceremony ``nonce`` ('' starts one). Each attempt is an audit event;
    the share itself never is. Returns the keeper's progress (``unsealed`` once the threshold is met)."""
    config = config_get()
    keeper = current_keeper()
    try:
        result = keeper.submit_share(share_text, nonce, params_of(config))
    except KeeperError as exc:
        event_record(
            actor=actor,
            action=events.SHARE_ENTER,
            obj=config,
            outcome=Outcome.FAILURE,
            after={"nonce": nonce, "refused": exc.code},
        )
        if exc.code == "share_other_set" and _of_pending_set(share_text, config):
            raise DomainError(
                _(
                    "This share is from the new set of a rekey or rotation that is not verified yet: it opens "
                    "nothing until %(k)d of the new shares are entered back (`handover vault rekey --verify` or "
                    "`rotate-master --verify`). Until then, unseal with the current shares."
                )
                % {"k": config.pending_threshold},
                code="share_pending",
            ) from None
        raise keeper_error(exc) from None
    try:
        _record_share(actor=actor, config=config, result=result)
    except Exception:
        # Fail closed: a share whose event is not written does not count.
        keeper.seal()
        raise
    return result


def _of_pending_set(share_text: str, config: VaultConfig) -> bool:
    try:
        return (
            bool(config.pending_set_id) and shamir.Share.decode(share_text).set_label == config.pending_set_id
        )
    except ShareError:
        return False


def _record_share(*, actor: Actor, config: VaultConfig, result: dict[str, Any]) -> None:
    with transaction.atomic():
        event_record(
            actor=actor,
            action=events.SHARE_ENTER,
            obj=config,
            after={
                "share": result["index"],
                "set_id": config.set_id,
                "nonce": result["nonce"],
                "entered": len(result["entered"]),
                "threshold": config.threshold,
            },
        )
        if result["unsealed"]:
            event_record(actor=actor, action=events.UNSEAL, obj=config, after={"shares": result["entered"]})


def _require_seal_right(actor: Actor) -> None:
    """L7: one vault serves every engagement of the deployment, and unsealing it again takes k share holders,
    so sealing needs vault_unseal in every engagement (or the deployment itself: its command line or a
    superuser). A 现场技术岗位 of one engagement cannot stop the vault for all the others."""
    if isinstance(actor, SystemActor) or getattr(actor, "is_superuser", False):
        return
    missing = [
        e
        for e in Engagement.objects.order_by("code")
        if not has_capability(user=actor, engagement=e, capability=perms.VAULT_UNSEAL)
    ]
    if missing:
        raise PermissionDenied(
            _(
                "The vault serves every engagement of this deployment; only someone who may unseal it in all "
                "of them, or the deployment's administrator with `handover vault seal`, may seal it."
            )
        )


def vault_seal(*, actor: Actor) -> None:
    """Forget the master key (and any ceremony in progress) everywhere it is held, then record it."""
    _require_seal_right(actor)
    config = config_get()
    keeper = current_keeper()
    try:
        keeper.seal()
    except KeeperError as exc:
        raise keeper_error(exc) from None
    event_record(actor=actor, action=events.SEAL, obj=config)


@dataclass(frozen=True)
class QuorumProgress:
    """Where a rekey or rotation ceremony stands after one share; ``shares`` are the new ones once done."""

    index: int
    nonce: str
    entered: list[int]
    threshold: int
    done: bool = False
    shares: list[str] = field(default_factory=list)


def _quorum_share(
    *,
    actor: Actor,
    purpose: str,
    share_text: str,
    nonce: str,
    shares: int,
    threshold: int,
    params: Params | None = None,
) -> tuple[Keeper, VaultConfig, dict[str, Any]]:
    """One share towards a rekey or rotation (a current share) or towards verifying the pending set (a new
    share, ``params`` the pending set's), as an audit event (accepted or refused; the share's number, never
    its content). 第二十二条 receives the passwords 按照审慎原则: no one person alone hands out shares of the
    key that guards them, nor retires the shares that open it."""
    keeper, config = require_unsealed()
    params = params or params_of(config)
    try:
        result = keeper.quorum_submit(
            share_text, nonce, params, purpose=purpose, shares=shares, threshold=threshold
        )
    except KeeperError as exc:
        event_record(
            actor=actor,
            action=events.QUORUM_SHARE,
            obj=config,
            outcome=Outcome.FAILURE,
            after={"for": purpose, "nonce": nonce, "refused": exc.code},
        )
        raise keeper_error(exc) from None
    event_record(
        actor=actor,
        action=events.QUORUM_SHARE,
        obj=config,
        after={
            "for": purpose,
            "share": result["index"],
            "set_id": params.set_id,
            "nonce": result["nonce"],
            "entered": len(result["entered"]),
            "threshold": params.threshold,
        },
    )
    return keeper, config, result


def _progress(result: dict[str, Any], shares: list[str] | None = None) -> QuorumProgress:
    return QuorumProgress(
        index=result["index"],
        nonce=result["nonce"],
        entered=list(result["entered"]),
        threshold=result["threshold"],
        done=bool(result["done"]),
        shares=shares or [],
    )


def vault_rekey(*, actor: Actor, share_text: str, nonce: str, shares: int, threshold: int) -> QuorumProgress:
    """One current share towards new shares of the same master key. The keeper produces them only once
    the threshold of current shares, entered like an unseal (nonce-bound), combine to the key it holds.
    The new set is then recorded as *pending* (``vault_pending_verify`` makes it current once k of its
    shares are entered back): until then the current shares keep opening the vault, so a rekey that dies
    before its shares reached their holders loses nothing."""
    _keeper, config, result = _quorum_share(
        actor=actor, purpose="rekey", share_text=share_text, nonce=nonce, shares=shares, threshold=threshold
    )
    if not result["done"]:
        return _progress(result)
    faults.point("vault.rekey.after_quorum")  # the new shares made in the keeper, nothing recorded
    new = Params(
        set_id=result["set_id"],
        threshold=threshold,
        check_value=config.check_value,
        cipher_name=config.cipher_name,
    )
    _pending_record(actor=actor, purpose="rekey", new=new, shares=shares, nonce=result["nonce"])
    faults.point("vault.rekey.after_record")  # pending recorded, the shares not shown: the old set current
    return _progress(result, list(result["shares"]))


def vault_rotate_master(
    *, actor: Actor, share_text: str, nonce: str, shares: int | None = None, threshold: int | None = None
) -> QuorumProgress:
    """One current share towards a new master key. Once the threshold of current shares is entered, the
    keeper makes the new key (kept in it, pending) and its shares, recorded as the pending set. Nothing is
    re-wrapped yet: ``vault_pending_verify`` re-wraps every data key in one transaction (the ciphertexts stay
    as they are, no secret is decrypted) only once k of the new shares are entered back."""
    config = config_get()
    shares, threshold = shares or config.shares, threshold or config.threshold
    keeper, config, result = _quorum_share(
        actor=actor, purpose="rotate", share_text=share_text, nonce=nonce, shares=shares, threshold=threshold
    )
    if not result["done"]:
        return _progress(result)
    try:
        new = Params.of(result["params"])
        _pending_record(actor=actor, purpose="rotate", new=new, shares=shares, nonce=result["nonce"])
    except BaseException:
        keeper.rotate_abort(session=result["session"])
        raise
    faults.point("vault.rotate.after_record")  # pending recorded, the shares not shown: the old key current
    return _progress(result, list(result["shares"]))


def _pending_record(*, actor: Actor, purpose: str, new: Params, shares: int, nonce: str) -> None:
    """Record ``new`` as the pending set beside the current one (replacing a pending one never verified)."""
    with transaction.atomic():
        config = VaultConfig.objects.select_for_update().get(pk=1)
        replaced = config.pending_set_id
        config.pending_purpose, config.pending_set_id = purpose, new.set_id
        config.pending_shares, config.pending_threshold = shares, new.threshold
        config.pending_check_value, config.pending_since = new.check_value, timezone.now()
        config.save()
        event_record(
            actor=actor,
            action=events.PENDING,
            obj=config,
            after={
                "for": purpose,
                "shares": shares,
                "threshold": new.threshold,
                "set_id": new.set_id,
                "current_set_id": config.set_id,
                "replaces": replaced,
                "nonce": nonce,
            },
        )


def pending_params(config: VaultConfig) -> Params | None:
    """The pending set's parameters, or None when no rekey or rotation waits for its shares."""
    if not config.pending_purpose:
        return None
    return Params(
        set_id=config.pending_set_id,
        threshold=config.pending_threshold,
        check_value=config.pending_check_value,
        cipher_name=config.cipher_name,
    )


def vault_pending_verify(*, actor: Actor, share_text: str, nonce: str) -> QuorumProgress:
    """One share of the pending set entered back by its holder (a ceremony with its nonce, like an unseal).
    Once k of them combine to the pending key, the pending set becomes current and the old one is retired,
    in one transaction with its audit event (a rotation first re-wraps every data key in it); before that,
    the current shares keep opening the vault."""
    config = config_get()
    new = pending_params(config)
    if new is None:
        raise DomainError(
            _(
                "No rekey or rotation is waiting for its new shares (`handover vault status` shows the vault)."
            ),
            code="no_pending_rekey",
        )
    _refuse_second_share(actor, nonce)
    keeper, config, result = _quorum_share(
        actor=actor,
        purpose="verify",
        share_text=share_text,
        nonce=nonce,
        shares=config.pending_shares,
        threshold=new.threshold,
        params=new,
    )
    if not result["done"]:
        return _progress(result)
    if config.pending_purpose == "rekey":
        _rekey_switch(actor=actor, new=new, nonce=result["nonce"])
        faults.point("vault.rekey.after_switch")  # the new set current and committed, the keeper not reset
        _reset_ceremony(keeper)
        return _progress(result)
    session = result["session"]
    try:
        _rewrap_all(actor=actor, keeper=keeper, config=config, new=new, session=session)
        faults.point("vault.rotate.after_rewrap")  # re-wrapped and committed, the keeper not switched
        keeper.rotate_commit(check_value=new.check_value, session=session)
    except KeeperError as exc:
        keeper.rotate_abort(session=session)
        raise keeper_error(exc) from None
    except Exception:
        keeper.rotate_abort(session=session)
        raise
    return _progress(result)


def _refuse_second_share(actor: Actor, nonce: str) -> None:
    """DESIGN.md decision 9: a person (a login, on the page or the API) enters one share per ceremony, so the
    k shares that make a new set current come from k people, as the command line's holders do one after
    another. The deployment's own command line (a system actor) is the administrator's, on the server."""
    if isinstance(actor, SystemActor) or not nonce:
        return
    earlier = Event.objects.filter(
        action=events.QUORUM_SHARE, actor_id=actor.pk, outcome=Outcome.SUCCESS, after__for="verify"
    )
    if earlier.filter(after__nonce=nonce).exists():
        raise DomainError(
            _(
                "You already entered a share in this ceremony: each of the %(k)s shares is entered by its own "
                "holder, logged in as themselves."
            )
            % {"k": config_get().pending_threshold},
            code="share_same_person",
        )


def _locked_pending(new: Params) -> VaultConfig:
    """The configuration row, locked, still pending ``new`` (else a rekey was cancelled or replaced since)."""
    config = VaultConfig.objects.select_for_update().get(pk=1)
    if pending_params(config) != new:
        raise DomainError(
            _(
                "The rekey or rotation these shares belong to was cancelled or replaced meanwhile: "
                "nothing was changed."
            ),
            code="pending_changed",
        )
    return config


def _pending_clear(config: VaultConfig) -> None:
    config.pending_purpose = config.pending_set_id = config.pending_check_value = ""
    config.pending_shares = config.pending_threshold = 0
    config.pending_since = None


def _rekey_switch(*, actor: Actor, new: Params, nonce: str) -> None:
    with transaction.atomic():
        config = _locked_pending(new)
        before = {"shares": config.shares, "threshold": config.threshold, "set_id": config.set_id}
        config.shares, config.threshold, config.set_id = config.pending_shares, new.threshold, new.set_id
        _pending_clear(config)
        config.save()
        event_record(
            actor=actor,
            action=events.REKEY,
            obj=config,
            before=before,
            after={"shares": config.shares, "threshold": new.threshold, "set_id": new.set_id, "nonce": nonce},
        )
        faults.point("vault.rekey.before_commit")  # inside the transaction: switched, not committed


def vault_pending_cancel(*, actor: Actor) -> None:
    """Drop the pending set: its shares never open the vault, the current ones stay current. It hands
    nobody anything, so the right to seal (one person) suffices; it is audited."""
    _require_seal_right(actor)
    with transaction.atomic():
        config = VaultConfig.objects.select_for_update().filter(pk=1).first()
        if config is None or not config.pending_purpose:
            raise DomainError(
                _("No rekey or rotation is waiting for its new shares: nothing to cancel."),
                code="no_pending_rekey",
            )
        before = {"for": config.pending_purpose, "set_id": config.pending_set_id}
        _pending_clear(config)
        config.save()
        event_record(actor=actor, action=events.PENDING_CANCEL, obj=config, before=before)


def _rewrap_all(*, actor: Actor, keeper: Keeper, config: VaultConfig, new: Params, session: str) -> None:
    with transaction.atomic():
        config = _locked_pending(new)
        versions = list(SecretVersion.objects.select_for_update().order_by("pk"))
        for version in versions:
            sealed = SealedSecret.from_bytes(bytes(version.sealed))
            wrapped = keeper.rewrap(
                sealed, record_id=version.record_id, check_value=config.check_value, session=session
            )
            version.sealed = replace(sealed, wrapped_key=wrapped).to_bytes()
        SecretVersion.objects.bulk_update(versions, ["sealed"], batch_size=500)
        faults.point("vault.rotate.mid_rewrap")  # inside the transaction: the versions re-wrapped, blobs not
        blobs = list(SealedBlob.objects.select_for_update().order_by("pk"))
        for blob in blobs:
            sealed = SealedSecret.from_bytes(bytes(blob.sealed))
            wrapped = keeper.rewrap(
                sealed, record_id=blob.record_id, check_value=config.check_value, session=session
            )
            blob.sealed = replace(sealed, wrapped_key=wrapped).to_bytes()
        SealedBlob.objects.bulk_update(blobs, ["sealed"], batch_size=500)
        before = {"key_version": config.key_version, "set_id": config.set_id}
        config.set_id, config.check_value, config.threshold = new.set_id, new.check_value, new.threshold
        config.shares, config.key_version = config.pending_shares, config.key_version + 1
        _pending_clear(config)
        config.save()
        event_record(
            actor=actor,
            action=events.ROTATE,
            obj=config,
            before=before,
            after={
                "key_version": config.key_version,
                "set_id": new.set_id,
                "rewrapped": len(versions),
                "blobs": len(blobs),
            },
        )


def _reset_ceremony(keeper: Keeper) -> None:
    try:
        keeper.reset_ceremony()
    except KeeperError:
        return
