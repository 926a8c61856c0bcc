"""Live gathering: a run takes each target's credential from the vault by entry id, a failing target is an
outcome with its reason and keeps its last good inventory, the rest goes on; the secret never reaches a
log, an audit event, an outcome or a snapshot (canary)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from handover.audit.models import Event
from handover.connectors.errors import GatherError, Status
from handover.core.actors import system
from handover.core.errors import DomainError
from handover.discovery import events, services
from handover.discovery.models import Fact, GatherRun, RunState, Snapshot, Target, TargetOutcome
from handover.org.models import Role
from handover.registers.models import InformationSystem
from handover.vault import lifecycle
from handover.vault import services as vault
from tests.discovery.conftest import SECRET_CANARY, Hosts, Rules
from tests.factories import World


@pytest.fixture
def tech(world: World):
    return world.login_with(Role.TECH_GROUP)


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    """run_start with its task run as the worker would after the commit."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            found = services.run_start(**kwargs)
        found.refresh_from_db()
        return found

    return run


def _target(world: World, actor, host: str) -> Target:
    info, _ = InformationSystem.objects.get_or_create(
        engagement=world.engagement, site=world.branch_a, name="集中交易"
    )
    entry = vault.secret_put(
        actor=system("test"),
        target=vault.Target(
            engagement=world.engagement,
            site=world.branch_a,
            system_name="集中交易",
            hostname=host,
            login_name="collector",
        ),
        secret=SECRET_CANARY,
    )
    return services.target_save(
        actor=actor, system=info, hostname=host, connector="testlinux", credential=entry
    )


def test_a_failed_target_keeps_its_last_good_inventory_and_the_run_goes_on(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, start
) -> None:
    hosts.answers = {"h1": "root:0:S\nops:1001:S\n", "h2": "root:0:S\n"}
    h1, _h2 = _target(world, tech, "h1"), _target(world, tech, "h2")
    first = start(actor=tech, engagement=world.engagement)
    assert first.state == RunState.DONE and first.counts["ok"] == 2
    good = Snapshot.objects.get(target=h1, is_current=True)

    hosts.answers["h1"] = GatherError(Status.HOST_KEY_CHANGED, "h1: host key changed", "h1：主机密钥已变更")
    hosts.answers["h2"] = "root:0:S\nnew:1003:\n"
    second = start(actor=tech, engagement=world.engagement)
    outcomes = {o.target.asset.hostname: o for o in TargetOutcome.objects.filter(run=second)}
    assert outcomes["h1"].status == "host_key_changed" and outcomes["h1"].reason_zh == "h1：主机密钥已变更"
    assert outcomes["h2"].status == "ok" and outcomes["h2"].counts["accounts"] == 2
    assert Snapshot.objects.get(target=h1, is_current=True) == good
    assert sorted(Fact.objects.filter(target=h1).values_list("name", flat=True)) == ["ops", "root"]
    assert second.counts["ok"] == 1 and second.counts["failed"] == 1 and second.state == RunState.DONE
    per_target = Event.objects.filter(action=events.TARGET_GATHER, after__run=second.pk)
    assert per_target.count() == 2
    assert Event.objects.filter(action=events.RUN_START, object_id=str(second.pk)).count() == 1
    assert hosts.seen[-1][1] == "collector"


def test_the_secret_never_reaches_logs_events_outcomes_or_snapshots(
    world: World,
    tech,
    hosts: Hosts,
    rules: Rules,
    vault,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
    start,
) -> None:
    caplog.set_level(logging.DEBUG)
    hosts.answers = {
        "h1": "root:0:S\n",
        "h2": GatherError(Status.TIMEOUT, "h2 timed out", "h2 超时"),
        "h3": RuntimeError(f"connector bug quoting {SECRET_CANARY}"),
    }
    _target(world, tech, "h1")
    _target(world, tech, "h2")
    _target(world, tech, "h3")
    run = start(actor=tech, engagement=world.engagement)

    assert run.state == RunState.DONE and run.counts["ok"] == 1 and run.counts["failed"] == 2
    assert TargetOutcome.objects.get(target__asset__hostname="h3").status == "refused"
    assert SECRET_CANARY not in caplog.text
    dumped = json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str)
    assert SECRET_CANARY not in dumped
    assert SECRET_CANARY not in json.dumps(list(TargetOutcome.objects.values()), default=str)
    assert SECRET_CANARY not in json.dumps(list(GatherRun.objects.values()), default=str)
    files = [p.read_bytes() for p in (data_dir / "discovery").rglob("*") if p.is_file()]
    assert files and not any(SECRET_CANARY.encode() in content for content in files)
    assert Event.objects.filter(action="vault.secret.task_use").count() == 3


def test_a_sealed_vault_refuses_the_run_with_a_reason(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path
) -> None:
    _target(world, tech, "h1")
    lifecycle.local_keeper().seal()
    with pytest.raises(services.VaultNeeded) as refused:
        services.run_start(actor=tech, engagement=world.engagement)
    assert "sealed" in str(refused.value.message).lower() or "封" in str(refused.value.message)
    assert not GatherRun.objects.exists()


def test_nothing_in_scope_is_refused(world: World, tech, hosts: Hosts, vault) -> None:
    with pytest.raises(DomainError):
        services.run_start(actor=tech, engagement=world.engagement, site=world.branch_b)


def test_a_site_post_runs_only_its_site(
    world: World, hosts: Hosts, rules: Rules, vault, data_dir: Path
) -> None:
    post_b = world.login_with(Role.ONSITE_POST, world.branch_b)
    with pytest.raises(DomainError):
        services.run_start(actor=post_b, engagement=world.engagement, site=world.branch_a)
    with pytest.raises(DomainError):
        services.run_start(actor=post_b, engagement=world.engagement)


def test_a_password_in_the_options_is_refused(world: World, tech, hosts: Hosts, vault) -> None:
    info = InformationSystem.objects.create(engagement=world.engagement, site=world.branch_a, name="集中交易")
    with pytest.raises(DomainError):
        services.target_save(
            actor=tech,
            system=info,
            hostname="h1",
            connector="testlinux",
            options={"password": "Sup3r!Secret#2026"},
        )
    assert not Target.objects.exists()


def test_a_defect_in_the_rules_fails_the_run_but_keeps_the_inventories(
    world: World, tech, hosts: Hosts, vault, data_dir: Path, start, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handover.discovery import engine

    def broken(items, context):
        raise ZeroDivisionError

    monkeypatch.setattr(engine, "_review_rules", lambda: broken)
    hosts.answers = {"h1": "root:0:S\n"}
    _target(world, tech, "h1")
    run = start(actor=tech, engagement=world.engagement)
    assert run.state == RunState.FAILED and "ZeroDivisionError" in run.reason
    assert Snapshot.objects.filter(is_current=True).count() == 1


def test_targets_are_gathered_at_once_within_the_limits_each_credential_taken_when_it_connects(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, start, settings, monkeypatch
) -> None:
    """Issue 14: bounded concurrency overall and per site; the vault gives a credential only to a connection
    about to open (never all secrets at once, 第二十二条); each outcome stored as it comes."""
    import asyncio
    import dataclasses

    from handover.connectors import manifest

    settings.HANDOVER_DISCOVERY_CONCURRENCY, settings.HANDOVER_DISCOVERY_PER_SITE = 3, 3
    taken, connected, finished = [], [], []
    real_take = services.secret_use_for_task

    def take(**kwargs):
        taken.append(kwargs["task"])
        return real_take(**kwargs)

    monkeypatch.setattr(services, "secret_use_for_task", take)
    open_now, peak = set(), [0]
    real_gather = hosts.gather
    three: list[asyncio.Event] = []

    async def gather(target, credential):
        if not three:
            three.append(asyncio.Event())  # on the run's own event loop
        open_now.add(target.host)
        connected.append(target.host)
        peak[0] = max(peak[0], len(open_now))
        assert len(taken) <= len(finished) + 3  # the secrets taken: the open connections' only
        if len(open_now) == 3:
            three[0].set()
        if len(connected) <= 3:  # the first three hold on until all three are open at once (never a fourth)
            await asyncio.wait_for(three[0].wait(), 60)  # a guard against a hang, not a time limit on speed
        try:
            return await real_gather(target, credential)
        finally:
            open_now.discard(target.host)
            finished.append(target.host)

    monkeypatch.setitem(
        manifest.REGISTRY, "testlinux", dataclasses.replace(manifest.REGISTRY["testlinux"], gather=gather)
    )
    names = [f"h{i}" for i in range(10)]
    hosts.answers = {name: "root:0:S\n" for name in names}
    for name in names:
        _target(world, tech, name)
    run = start(actor=tech, engagement=world.engagement)
    assert run.state == RunState.DONE and run.counts["ok"] == 10
    assert peak[0] == 3 and len(taken) == 10 and sorted(connected) == sorted(names)


def test_a_run_whose_worker_died_is_marked_interrupted_and_keeps_what_finished(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, settings
) -> None:
    import datetime as dt

    from django.utils import timezone

    from handover.core import schedule
    from handover.discovery import tasks

    assert schedule.job("discovery.stale_runs").call == "handover.discovery.tasks.stale_runs_scheduled"
    settings.HANDOVER_DISCOVERY_STALE_MINUTES = 60
    hosts.answers = {"h1": "root:0:S\n", "h2": "root:0:S\n"}
    _target(world, tech, "h1")
    _target(world, tech, "h2")
    run = services.run_start(actor=tech, engagement=world.engagement, enqueue=False)
    t0 = timezone.now()
    GatherRun.objects.filter(pk=run.pk).update(state=RunState.RUNNING)
    first = TargetOutcome.objects.filter(run=run).order_by("pk").first()
    TargetOutcome.objects.filter(pk=first.pk).update(status="ok", finished_at=t0 + dt.timedelta(minutes=30))

    assert services.runs_interrupt_stale(now=t0 + dt.timedelta(minutes=89)) == 0  # 59 minutes of silence
    run.refresh_from_db()
    assert run.state == RunState.RUNNING
    assert services.runs_interrupt_stale(now=t0 + dt.timedelta(minutes=91)) == 1
    run.refresh_from_db()
    assert run.state == RunState.INTERRUPTED and run.counts["not_reached"] == 1 and "1" in run.reason
    assert TargetOutcome.objects.get(pk=first.pk).status == "ok"  # what finished is kept
    event = Event.objects.get(action=events.RUN_INTERRUPT, object_id=str(run.pk))
    assert event.after["not_reached"] == 1
    assert services.runs_interrupt_stale(now=t0 + dt.timedelta(days=1)) == 0  # once
    assert tasks.stale_runs_scheduled() == {"interrupted": 0}
    again = services.run_start(actor=tech, engagement=world.engagement, enqueue=False)
    assert services.run_execute(run_id=again.pk).state == RunState.DONE


def test_the_technical_group_and_the_sites_post_hear_of_new_high_findings_and_failed_targets(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, start
) -> None:
    from handover.discovery import topics
    from handover.notifications.models import Notification

    post_a = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    post_b = world.login_with(Role.ONSITE_POST, site=world.branch_b)
    hosts.answers = {"h1": "root:0:S\nops:1001:S\n"}  # ops: a high finding; h2 unreachable
    _target(world, tech, "h1")
    _target(world, tech, "h2")
    run = start(actor=tech, engagement=world.engagement)
    told = Notification.objects.filter(topic=topics.RUN_ATTENTION)
    assert {n.person.user for n in told} == {tech, post_a}  # not the other branch's post
    note = told.get(person__user=post_a)
    assert note.title == "账户发现（甲营业部）：新增高风险问题 1 项，未采集目标 1 个"
    assert note.link.endswith(f"/runs/{run.pk}/")
    assert not told.filter(person__user=post_b).exists()

    start(actor=tech, engagement=world.engagement)  # the same finding again: not new; h2 still fails
    second = Notification.objects.filter(topic=topics.RUN_ATTENTION, person__user=post_a).order_by("-pk")[0]
    assert second.title == "账户发现（甲营业部）：新增高风险问题 0 项，未采集目标 1 个"

    hosts.answers["h2"] = "root:0:S\n"
    before = Notification.objects.filter(topic=topics.RUN_ATTENTION).count()
    start(actor=tech, engagement=world.engagement)  # nothing new, nothing failed: nobody is disturbed
    assert Notification.objects.filter(topic=topics.RUN_ATTENTION).count() == before


def test_a_targets_timeout_option_reaches_the_connector_bounded(
    world: World, tech, hosts: Hosts, rules: Rules, vault, data_dir: Path, start, monkeypatch
) -> None:
    import dataclasses

    from handover.connectors import manifest

    seen = {}
    real = manifest.REGISTRY["testlinux"].gather

    async def gather(target, credential):
        seen[target.host] = (target.timeout, target.option("site"))
        return await real(target, credential)

    monkeypatch.setitem(
        manifest.REGISTRY, "testlinux", dataclasses.replace(manifest.REGISTRY["testlinux"], gather=gather)
    )
    hosts.answers = {"h1": "root:0:S\n", "h2": "root:0:S\n", "h3": "root:0:S\n"}
    for host, options in (
        ("h1", {"timeout": "7.5"}),
        ("h2", {"timeout": "100000"}),
        ("h3", {"timeout": "x"}),
    ):
        target = _target(world, tech, host)
        services.target_save(
            actor=tech, system=target.system, hostname=host, connector="testlinux", options=options,
            credential=target.credential,
        )  # fmt: skip
    start(actor=tech, engagement=world.engagement)
    assert seen == {"h1": (7.5, "BA"), "h2": (600.0, "BA"), "h3": (20.0, "BA")}
