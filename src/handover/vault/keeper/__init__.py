"""The key keeper: the one place where the vault's master key exists whole, in memory only.

Like ssh-agent, it is a small process (``handover serve`` starts it; ``handover vault keeper`` runs it alone)
listening on a Unix socket in the data folder, mode 0600, that answers only to processes of its own user
(checked with ``SO_PEERCRED``) and uses the master key only for those that hold its per-start caller secret
(``secret.py``: ``serve`` hands it to its children). Every gunicorn worker and task worker asks it to wrap
and unwrap data keys; the master key never leaves it, and new shares of it come out only of a quorum of the
current shares entered into it (rekey, rotation), as an unseal. Shares entered during an unseal ceremony
accumulate here too, never in the database, so two people at two browsers (two worker processes) take part
in one ceremony. When the keeper stops, the vault is sealed.

``LocalKeeper`` is the state and its rules; ``serve`` puts one behind the socket; ``RemoteKeeper`` is the
client with the same methods. Which one a process uses is configuration (``HANDOVER_VAULT_KEEPER``), never
whether a socket file exists; a process configured for the socket never falls back to a ``LocalKeeper``.
This module imports no Django.

A ceremony has a nonce. The first share starts one (no nonce given) and every later share must carry the
nonce of the ceremony it joins, so a page left open from an earlier ceremony, or a second ceremony started
at another desk, cannot slip a share into this one.
"""

from handover.vault.keeper.server import RemoteKeeper, bind, main, serve
from handover.vault.keeper.state import (
    CeremonyMismatch,
    KeeperError,
    KeyMismatch,
    LocalKeeper,
    Params,
    Sealed,
    Unauthenticated,
    Unreachable,
)

Keeper = LocalKeeper | RemoteKeeper

__all__ = [
    "CeremonyMismatch",
    "Keeper",
    "KeeperError",
    "KeyMismatch",
    "LocalKeeper",
    "Params",
    "RemoteKeeper",
    "Sealed",
    "Unauthenticated",
    "Unreachable",
    "bind",
    "main",
    "serve",
]
