"""Network faults during a rotation (issue 15) on a real sshd behind a loopback TCP proxy (tcp_proxy.py: this
kernel has no netem, the machine no iptables or nft): the network dropping, or answering later than the
connector's timeout, right after the change was sent; and answering too late from before the change. Each
time the vault keeps a secret the host holds (the current one, or the pending one the item recorded), the run
leaves the account open with the reason, and the run after the network is back finishes it with one change
on the host in all."""

from __future__ import annotations

import asyncio
from pathlib import Path

from handover.connectors.change import linux as changer
from handover.connectors.change.sha512crypt import verify
from handover.discovery.models import Target
from handover.discovery.services import engine_target
from handover.org.models import Role
from handover.rotation import services as rotation
from handover.rotation.models import ItemState, PlanState
from handover.vault import services as vault
from handover.vault.models import VerifyResult
from tests.connectors.etc_host import Host
from tests.connectors.tcp_proxy import Proxy, tcp_proxy

ACCOUNT = "opsuser"
TIMEOUT = "3"  # seconds (the target's option): a connection that answers later fails after 3 × this
LATE = 10.0  # seconds each chunk is held in ``delay``: beyond any of the connector's waits


def _shadow_hash(root: Path) -> str:
    line = next(x for x in (root / "etc/shadow").read_text().splitlines() if x.startswith(f"{ACCOUNT}:"))
    return line.split(":")[1]


def _secret(entry_id: int, number: int | None = None) -> str:
    return vault.secret_use_for_task(entry_id=entry_id, purpose="test: network faults", pending_number=number)


def _plan(world, tech, target, proxy: Proxy):  # type: ignore[no-untyped-def]
    Target.objects.filter(pk=target.pk).update(
        port=proxy.port, options={**target.options, "timeout": TIMEOUT}
    )
    plan = rotation.plan_create(actor=tech, engagement=world.engagement)
    plan.items.exclude(login_name=ACCOUNT).delete()  # one account; root stays the connection's own
    return rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)


def _recovered(plan_id: int, target, host: Host, held: str) -> None:  # type: ignore[no-untyped-def]
    """The network is back: the next run finishes; ``held`` (the host's hash before it) shows whether the run
    may still change the password (the host did not hold the new one yet) or must not."""
    plan = rotation.plan_run(plan_id=plan_id)
    item = plan.items.get()
    assert (plan.state, item.state, item.outcome) == (PlanState.DONE, ItemState.DONE, VerifyResult.SUCCESS), (
        item.reason
    )
    current = _secret(item.entry_id)
    assert verify(current, _shadow_hash(host.root))
    assert asyncio.run(changer.login_works(engine_target(target), ACCOUNT, current))
    assert not vault.live_pending(item.entry)
    if verify(current, held):
        assert _shadow_hash(host.root) == held  # the host held the new secret: not changed a second time


def test_network_faults_leave_a_working_secret_and_one_change(
    linux_scene, etc_linux: Host, monkeypatch
) -> None:
    """One scene (its setup costs more than the faults), three faults one after the other."""
    world, tech, target = linux_scene
    with tcp_proxy(etc_linux.port) as proxy:
        for fault in ("drop", "delay"):
            _after_the_change(fault, world, tech, target, etc_linux, proxy, monkeypatch)
        _too_late_before_the_change(world, tech, target, etc_linux, proxy)


def _after_the_change(fault: str, world, tech, target, host: Host, proxy: Proxy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The network drops, or answers later than the timeout, right after the change was sent."""
    plan = _plan(world, tech, target, proxy)
    real = changer.change

    async def change_then_fault(place, admin, account, new):  # type: ignore[no-untyped-def]
        await real(place, admin, account, new)
        proxy.mode, proxy.delay = fault, LATE

    monkeypatch.setattr(changer, "change", change_then_fault)
    plan = rotation.plan_run(plan_id=plan.pk)
    item = plan.items.get()
    assert (plan.state, item.state) == (PlanState.RUNNING, ItemState.CHANGED), (fault, item.reason)
    assert item.reason and not item.outcome  # open, with what is known
    if fault == "drop":
        assert proxy.dropped > 0
    pending = vault.live_pending(item.entry)
    assert pending is not None and pending.number == item.version_number
    held = _shadow_hash(host.root)
    assert verify(_secret(item.entry_id, pending.number), held)  # the host holds the pending secret …
    assert not verify(_secret(item.entry_id), held)  # … not the current one, which the recovery replaces
    proxy.mode = "forward"
    monkeypatch.setattr(changer, "change", real)
    _recovered(plan.pk, target, host, held)


def _too_late_before_the_change(world, tech, target, host: Host, proxy: Proxy) -> None:  # type: ignore[no-untyped-def]
    """The host answers later than the timeout from the start: nothing is sent, nothing changes."""
    plan = _plan(world, tech, target, proxy)
    before = _shadow_hash(host.root)
    proxy.mode, proxy.delay = "delay", LATE
    plan = rotation.plan_run(plan_id=plan.pk)
    item = plan.items.get()
    assert (plan.state, item.state) == (PlanState.RUNNING, ItemState.PLANNED), item.reason
    assert item.reason and _shadow_hash(host.root) == before
    assert verify(_secret(item.entry_id), before)
    proxy.mode = "forward"
    _recovered(plan.pk, target, host, before)
