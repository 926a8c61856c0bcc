"""gather_many's scheduling: bounded overall and per site, credentials asked for only when a target connects."""

from __future__ import annotations

import asyncio

from handover.connectors import run
from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential, Target
from handover.connectors.model import Inventory


def _targets(n: int, sites: int) -> list[Target]:
    return [Target(f"10.0.{i % sites}.{i}", 22, options=(("site", f"s{i % sites}"),)) for i in range(n)]


def test_credentials_are_taken_one_connection_at_a_time_within_the_limits() -> None:
    held: set[str] = set()
    peak = {"overall": 0}
    per_site_peak: dict[str, int] = {}
    asked: list[str] = []

    async def credential_for(target: Target) -> Credential:
        if target.host == "10.0.1.5":
            raise GatherError(Status.REFUSED, "vault sealed", "保管库已封存")
        asked.append(target.host)
        return Credential("root", f"secret-{target.host}")

    async def gather(target: Target, credential: Credential) -> Inventory:
        assert credential.secret == f"secret-{target.host}"
        held.add(target.host)
        peak["overall"] = max(peak["overall"], len(held))
        site = target.option("site")
        here = sum(1 for h in held if h.startswith(f"10.0.{site[1:]}."))
        per_site_peak[site] = max(per_site_peak.get(site, 0), here)
        await asyncio.sleep(0.001)
        held.discard(target.host)
        return Inventory(platform="test", target=target.host, gathered_at=None)  # type: ignore[arg-type]

    async def go() -> list[run.Outcome]:
        return [
            o
            async for o in run.gather_many(gather, _targets(40, 4), credential_for, concurrency=6, per_site=2)
        ]

    outcomes = asyncio.run(go())
    assert len(outcomes) == 40 and len(asked) == 39
    assert peak["overall"] <= 6 and max(per_site_peak.values()) <= 2 and peak["overall"] > 2
    (refused,) = [o for o in outcomes if not o.ok]
    assert refused.target.host == "10.0.1.5" and refused.status is Status.REFUSED and refused.reason_zh


def test_a_credential_list_must_match_the_targets() -> None:
    async def go() -> None:
        async for _ in run.gather_many(lambda t, c: None, _targets(2, 1), [Credential("a", "b")]):  # type: ignore[arg-type, return-value]
            pass

    try:
        asyncio.run(go())
    except ValueError as exc:
        assert "one credential per target" in str(exc)
    else:
        raise AssertionError("a short credential list was accepted")
