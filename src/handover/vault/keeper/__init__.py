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

from handover.vault.keeper.server import RemoteKeeper, bind, main, serve
from handover.vault.keeper.state import (
    CeremonyMismatch,
    KeeperError,
    KeyMismatch,
    LocalKeeper,
    Params,
    Sealed,
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
    "Unreachable",
    "bind",
    "main",
    "serve",
]
