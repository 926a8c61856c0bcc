"""Gather many targets with bounded concurrency, overall and per site, yielding one outcome per target.

Any connector's ``gather`` fits. A target's site is its ``site`` option (``Target.options``); a failure is an
outcome with its status and reason, and the rest of the run goes on (issue 14, "Bad input").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

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


async def gather_many(
    gather: Gather,
    targets: Sequence[Target],
    credentials: Sequence[Credential] | Mapping[Target, Credential],
    *,
    concurrency: int = 32,
    per_site: int = 8,
) -> AsyncIterator[Outcome]:
    """Each target's outcome as it finishes; ``credentials`` in the order of ``targets`` or by target."""
    if concurrency < 1 or per_site < 1:
        raise ValueError("concurrency and per_site must be at least 1")
    if isinstance(credentials, Mapping):
        pairs = [(t, credentials[t]) for t in targets]
    else:
        if len(credentials) != len(targets):
            raise ValueError("one credential per target")
        pairs = list(zip(targets, credentials, strict=True))
    overall = asyncio.Semaphore(concurrency)
    sites: dict[str, asyncio.Semaphore] = {}

    async def one(target: Target, credential: Credential) -> Outcome:
        site = sites.setdefault(target.option("site"), asyncio.Semaphore(per_site))
        async with site, overall:
            try:
                inventory = await gather(target, credential)
            except GatherError as exc:
                return Outcome(target, exc.status, None, exc.reason_en, exc.reason_zh)
            return Outcome(target, Status.OK, inventory)

    tasks = [asyncio.ensure_future(one(t, c)) for t, c in pairs]
    try:
        for finished in asyncio.as_completed(tasks):
            yield await finished
    finally:
        for task in tasks:
            task.cancel()
