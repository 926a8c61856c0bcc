"""Gather many targets with bounded concurrency, overall and per site, yielding one outcome per target.

Any connector's ``gather`` fits. A target's site is its ``site`` option (``Target.options``); a failure is an
outcome with its status and reason, and the rest of the run goes on (issue 14, "Bad input").

The credentials may be a function called for each target only once it holds its places, just before it
connects: then no more secrets are in memory than connections are open (the server takes each from the vault
at that moment), and a credential that cannot be had (the vault sealed meanwhile) is that target's outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential, Gather, Target
from handover.connectors.model import Inventory


@dataclass(frozen=True)
class Outcome:
    """What one target gave: OK with its inventory, or another status with the reason."""

    target: Target
    status: Status
    inventory: Inventory | None = None
    reason_en: str = ""
    reason_zh: str = ""

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


CredentialFor = Callable[[Target], Awaitable[Credential]]
R = TypeVar("R")


async def in_thread(collect: Callable[[Target, Credential], R], target: Target, credential: Credential) -> R:
    """A blocking driver's ``collect`` in a thread, bounded by three times the target's timeout; a GatherError
    (or the timeout) is raised outside the handler, so that no driver exception rides along."""
    where = f"{target.host}:{target.port}"
    failure: GatherError | None = None
    try:
        async with asyncio.timeout(target.timeout * 3):
            return await asyncio.to_thread(collect, target, credential)
    except GatherError as exc:
        failure = exc
    except TimeoutError:
        failure = GatherError(
            Status.TIMEOUT,
            f"{where}: no answer within the target's timeout",
            f"{where}：在设定的超时时间内无响应",
        )
    raise failure


class Limits:
    """At most ``concurrency`` jobs at once overall and ``per_site`` per site (the site's slot is taken first, so
    that a job waiting for its site holds no overall slot). Shared by the gathering and the rotation."""

    def __init__(self, concurrency: int, per_site: int) -> None:
        if concurrency < 1 or per_site < 1:
            raise ValueError("concurrency and per_site must be at least 1")
        self.overall = asyncio.Semaphore(concurrency)
        self.per_site = per_site
        self.sites: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def slot(self, site: str) -> AsyncIterator[None]:
        async with self.sites.setdefault(site, asyncio.Semaphore(self.per_site)), self.overall:
            yield


async def gather_many(
    gather: Gather,
    targets: Sequence[Target],
    credentials: Sequence[Credential] | Mapping[Target, Credential] | CredentialFor,
    *,
    concurrency: int = 32,
    per_site: int = 8,
) -> AsyncIterator[Outcome]:
    """Each target's outcome as it finishes; ``credentials`` in the order of ``targets``, by target, or a
    function giving a target's credential when it is about to connect (it may raise GatherError)."""
    limits = Limits(concurrency, per_site)
    if callable(credentials):
        credential_for: CredentialFor = credentials
    else:
        given = dict(_pairs(targets, credentials))

        async def credential_for(target: Target) -> Credential:
            return given[target]

    async def one(target: Target) -> Outcome:
        async with limits.slot(target.option("site")):
            try:
                credential = await credential_for(target)
                try:
                    inventory = await gather(target, credential)
                finally:
                    del credential  # held no longer than its connection
            except GatherError as exc:
                return Outcome(target, exc.status, None, exc.reason_en, exc.reason_zh)
            return Outcome(target, Status.OK, inventory)

    tasks = [asyncio.ensure_future(one(t)) for t in targets]
    try:
        for finished in asyncio.as_completed(tasks):
            yield await finished
    finally:
        for task in tasks:
            task.cancel()


def _pairs(
    targets: Sequence[Target], credentials: Sequence[Credential] | Mapping[Target, Credential]
) -> list[tuple[Target, Credential]]:
    if isinstance(credentials, Mapping):
        return [(t, credentials[t]) for t in targets]
    if len(credentials) != len(targets):
        raise ValueError("one credential per target")
    return list(zip(targets, credentials, strict=True))
