"""Writes of discovery: targets, gathering runs, offline imports, decisions on findings.

Each service checks the actor's capability at the site (``RUN_DISCOVERY``: 技术组 and the site's 现场技术岗位),
writes in one transaction with its audit event, and lets no secret reach an event, an exception or a log
line: a task takes a credential from the vault by entry id only while it is unsealed, holds it for the one
connection, and drops it (第二十二条). One audit event per run and one per target with its counts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import difflib
import logging
import queue
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.connectors import run as connectors_run
from handover.connectors.errors import GatherError, ParseError, Status
from handover.connectors.manifest import Credential, Manifest
from handover.connectors.manifest import Target as EngineTarget
from handover.connectors.model import Inventory
from handover.core.actors import Actor, SystemActor, system
from handover.core.errors import DomainError, NotFound
from handover.discovery import drafts, engine, events, reviewing
from handover.discovery.models import (
    Decision,
    Finding,
    GatherRun,
    RunKind,
    RunState,
    Snapshot,
    Target,
    TargetOutcome,
)
from handover.discovery.store import snapshot_save, source_read
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import require, require_at
from handover.registers import inventory as entities
from handover.registers.models import InformationSystem
from handover.registers.rules import lookups_cached
from handover.registers.validation import looks_like_credential
from handover.vault.lifecycle import VaultSealed, require_unsealed
from handover.vault.models import SecretEntry
from handover.vault.services import secret_use_for_task

logger = logging.getLogger(__name__)


class VaultNeeded(DomainError):
    """The vault is sealed and this work needs it: a precondition a person can fix (409), not an outage."""

    status = 409

    def __init__(self, message: Any) -> None:
        super().__init__(message, field="vault", code="vault_sealed")


def _who(actor: Actor) -> tuple[Any, str]:
    if isinstance(actor, SystemActor) or actor is None:
        return None, str(actor)
    return actor, actor.get_username()


def _localised(error: GatherError) -> str:
    return error.reason_zh if (translation.get_language() or "").startswith("zh") else error.reason_en


# -- targets -------------------------------------------------------------------------------------------


def target_save(
    *,
    actor: Actor,
    system: InformationSystem,
    hostname: str,
    connector: str,
    port: int | None = None,
    address: str = "",
    options: dict[str, str] | None = None,
    credential: SecretEntry | None = None,
) -> Target:
    """The target for ``connector`` on ``hostname`` of ``system``, created or updated (never a secret: the
    credential is a vault entry of the same engagement)."""
    require(user=actor, engagement=system.engagement, capability=perms.RUN_DISCOVERY, site=system.site)
    manifest = engine.connector_get(connector)
    if manifest is None:
        raise DomainError(_("There is no connector %(code)s.") % {"code": connector}, field="connector")
    if any(
        looks_like_credential(f"{k}={v}") or looks_like_credential(str(v)) for k, v in (options or {}).items()
    ):
        raise DomainError(
            _(
                "An option looks like a password or key: credentials belong in the vault; name its entry instead."
            ),
            field="options",
        )
    if credential is not None and credential.engagement_id != system.engagement_id:
        raise DomainError(_("The vault entry belongs to another engagement."), field="credential")
    with transaction.atomic():
        asset = entities.asset_ensure(
            actor=actor, engagement=system.engagement, site=system.site, hostname=hostname, system=system
        )
        target, _created = Target.objects.update_or_create(
            system=system,
            asset=asset,
            connector=connector,
            defaults={
                "engagement": system.engagement,
                "site": system.site,
                "address": address or hostname,
                "port": port or manifest.default_port,
                "options": options or {},
                "credential": credential,
                "is_active": True,
            },
        )
        event_record(
            actor=actor,
            action=events.TARGET_SAVE,
            engagement_id=target.engagement_id,
            site_id=target.site_id,
            obj=target,
            after={
                "system": system.name,
                "host": hostname,
                "connector": connector,
                "port": target.port,
                "credential": str(credential.pk) if credential else None,
            },
        )
    return target


# -- runs ----------------------------------------------------------------------------------------------


def run_start(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site | None = None,
    system: InformationSystem | None = None,
    enqueue: bool = True,
) -> GatherRun:
    """Start gathering the active live targets in scope (the whole engagement, a site's subtree, a system).

    Refused while the vault is sealed (the credentials are in it) and when nothing is in scope; the work is
    a background task, which records each target's outcome as it goes (``enqueue=False``: the caller runs
    ``run_execute`` itself, as the command line does).
    """
    from handover.discovery.tasks import gather_run

    require_at(
        user=actor,
        engagement=engagement,
        capability=perms.RUN_DISCOVERY,
        site=site or (system.site if system is not None else None),
    )
    try:
        require_unsealed()
    except VaultSealed:
        raise VaultNeeded(
            _(
                "The vault is sealed: gathering needs the targets' credentials from it. Unseal it, then start again."
            )
        ) from None
    targets = _in_scope(engagement, site, system)
    if not targets:
        raise DomainError(
            _(
                "No live target is set up in this scope: add a target (system, host, connector, vault entry) first."
            ),
            field="scope",
        )
    user, name = _who(actor)
    with transaction.atomic():
        run = GatherRun.objects.create(
            engagement=engagement,
            site=site,
            system=system,
            kind=RunKind.GATHER,
            started_by=user,
            started_by_name=name,
            counts={"targets": len(targets)},
        )
        TargetOutcome.objects.bulk_create([TargetOutcome(run=run, target=t) for t in targets])
        event_record(
            actor=actor,
            action=events.RUN_START,
            engagement_id=engagement.pk,
            site_id=site.pk if site else (system.site_id if system else None),
            obj=run,
            after={
                "targets": len(targets),
                "site": site.code if site else "",
                "system": system.name if system else "",
            },
        )
        if enqueue:
            transaction.on_commit(lambda: gather_run.enqueue(run.pk))
    return run


def _in_scope(engagement: Engagement, site: Site | None, system: InformationSystem | None) -> list[Target]:
    targets = Target.objects.filter(engagement=engagement, is_active=True, credential__isnull=False)
    if site is not None:
        targets = targets.filter(site__path__startswith=site.path)
    if system is not None:
        targets = targets.filter(system=system)
    registry = engine.connectors_load()
    live = [
        t
        for t in targets.select_related("asset", "system", "site")
        if getattr(registry.get(t.connector), "gather", None)
    ]
    return live


def run_execute(*, run_id: int) -> GatherRun:
    """The task's body: gather the run's targets, many at once (``HANDOVER_DISCOVERY_CONCURRENCY`` overall,
    ``HANDOVER_DISCOVERY_PER_SITE`` per site), each outcome stored as it comes, so that a worker that dies
    keeps what finished. A failed target is an outcome with its reason and keeps its last good inventory;
    the rest of the run goes on. Then review and draft the registers.

    The connections run on an event loop in a thread of their own; this thread alone touches the database:
    it hands each connection its credential, taken from the vault just before it connects (never all secrets
    at once, 第二十二条), and stores each outcome."""
    run = GatherRun.objects.select_related("engagement").get(pk=run_id)
    actor = system(f"discovery({run.started_by_name})")
    GatherRun.objects.filter(pk=run.pk).update(state=RunState.RUNNING)
    pending = list(
        run.outcomes.filter(finished_at__isnull=True).select_related(
            "target__asset", "target__system", "target__site", "target__credential__account"
        )
    )
    _Gathering(actor=actor, run=run, outcomes=pending).run()
    return _finish(actor=actor, run=run)


class _Gathering:
    """One run's connections on an event loop in another thread; this thread answers its requests."""

    def __init__(self, *, actor: Actor, run: GatherRun, outcomes: list[TargetOutcome]) -> None:
        self.actor, self.run_ = actor, run
        self.requests: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        self.by_place: dict[EngineTarget, tuple[TargetOutcome, Manifest | None]] = {}
        for outcome in outcomes:
            target = outcome.target
            manifest = engine.connector_get(target.connector)
            self.by_place[engine_target(target, manifest)] = (outcome, manifest)

    def run(self) -> None:
        from django.conf import settings

        if not self.by_place:
            return
        concurrency = max(1, int(settings.HANDOVER_DISCOVERY_CONCURRENCY))
        per_site = max(1, int(settings.HANDOVER_DISCOVERY_PER_SITE))
        worker = threading.Thread(
            target=self._loop, args=(concurrency, per_site), name=f"discovery-run-{self.run_.pk}", daemon=True
        )
        worker.start()
        while True:  # a daemon thread: if this one dies, the process's end ends it
            kind, item, answer = self.requests.get()
            if kind == "credential":
                self._answer(item, answer)
            elif kind == "outcome":
                self._store(item)
            else:
                break
        worker.join()

    def _loop(self, concurrency: int, per_site: int) -> None:
        try:
            asyncio.run(self._drive(concurrency, per_site))
        except Exception as exc:  # the run ends; the outcomes not reached stay open and say so
            logger.error("discovery run %s: the gathering stopped (%s)", self.run_.pk, type(exc).__name__)
        finally:
            self.requests.put(("end", None, None))

    async def _drive(self, concurrency: int, per_site: int) -> None:
        async def credential_for(place: EngineTarget) -> Credential:
            answer: concurrent.futures.Future[Credential] = concurrent.futures.Future()
            self.requests.put(("credential", place, answer))
            return await asyncio.wrap_future(answer)

        async def gather(place: EngineTarget, credential: Credential) -> Inventory:
            outcome, manifest = self.by_place[place]
            assert manifest is not None and manifest.gather is not None  # checked before the credential
            try:
                return await manifest.gather(place, credential)
            except GatherError:
                raise
            except Exception as exc:  # a connector's defect must not stop the run
                raise _defect(outcome.target, exc) from None

        async for result in connectors_run.gather_many(
            gather, list(self.by_place), credential_for, concurrency=concurrency, per_site=per_site
        ):
            self.requests.put(("outcome", result, None))

    def _answer(self, place: EngineTarget, answer: concurrent.futures.Future[Credential]) -> None:
        """The credential of one connection, taken from the vault now; a refusal is the target's outcome."""
        outcome, manifest = self.by_place[place]
        target = outcome.target
        try:
            if manifest is None or manifest.gather is None:
                raise GatherError(
                    Status.REFUSED,
                    f"connector {target.connector} cannot gather live here",
                    f"连接器 {target.connector} 在此不能在线采集",
                )
            answer.set_result(_credential(run=self.run_, target=target))
        except GatherError as exc:
            answer.set_exception(exc)
        except VaultSealed:
            answer.set_exception(
                GatherError(
                    Status.REFUSED,
                    "the vault was sealed before this target's credential was taken; unseal and run again",
                    "取凭据前保管库已封存；请解封后重新采集",
                )
            )
        except DomainError as exc:
            answer.set_exception(GatherError(Status.REFUSED, str(exc.message), str(exc.message)))
        except Exception as exc:  # never a secret: only the type is kept
            answer.set_exception(_defect(target, exc))

    def _store(self, result: connectors_run.Outcome) -> None:
        outcome, _manifest = self.by_place[result.target]
        target, actor = outcome.target, self.actor
        if not result.ok or result.inventory is None:
            error = GatherError(result.status, result.reason_en, result.reason_zh)
            _outcome(actor=actor, outcome=outcome, status=result.status, error=error)
            return
        inventory = result.inventory
        try:
            with transaction.atomic():
                snapshot = snapshot_save(actor=actor, run=self.run_, target=target, inventory=inventory)
                _host_key(actor=actor, target=target, inventory=inventory)
                _outcome(
                    actor=actor, outcome=outcome, status=Status.OK, snapshot=snapshot, inventory=inventory
                )
        except DomainError as exc:
            error = GatherError(Status.REFUSED, str(exc.message), str(exc.message))
            _outcome(actor=actor, outcome=outcome, status=Status.REFUSED, error=error)
        except Exception as exc:  # one target's store failing loses no other
            _outcome(actor=actor, outcome=outcome, status=Status.REFUSED, error=_defect(target, exc))


def engine_target(target: Target, manifest: Manifest | None = None) -> EngineTarget:
    """Where the connectors reach ``target``: its address and port, its options with its site (the per-site
    limit) and its id (one place each), the recorded host key, its own timeout (option ``timeout``, 1–600 s)."""
    manifest = manifest or engine.connector_get(target.connector)
    options = {str(k): str(v) for k, v in target.options.items()}
    options.update(site=target.site.code, handover_target=str(target.pk))
    place = EngineTarget(
        host=target.address or target.asset.hostname,
        port=target.port or (manifest.default_port if manifest else 0) or 0,
        options=tuple(sorted(options.items())),
        known_host_key=target.host_key,
    )
    try:
        seconds = float(options.get("timeout", ""))
    except ValueError:
        return place
    return replace(place, timeout=min(600.0, max(1.0, seconds)))


def _defect(target: Target, exc: BaseException) -> GatherError:
    # Only the type is kept: a connector's message may quote what it read (never risk a secret).
    name = type(exc).__name__
    return GatherError(
        Status.REFUSED,
        f"unexpected error in connector {target.connector} ({name}); report it to the developers",
        f"连接器 {target.connector} 发生意外错误（{name}）；请报告开发人员",
    )


def _credential(*, run: GatherRun, target: Target) -> Credential:
    """One connection's credential, from the vault by entry id, recorded as used by this run's task."""
    entry = target.credential
    if entry is None:
        raise GatherError(
            Status.AUTH_FAILED, "no vault entry is set for this target", "该目标未设置保管库凭据"
        )
    secret = secret_use_for_task(
        entry_id=entry.pk, purpose=f"discovery run {run.pk}", task=f"discovery:{target.pk}"
    )
    return Credential(
        username=entry.account.login_name,
        secret=secret,
        kind=target.options.get("credential_kind", "password"),
    )


def runs_interrupt_stale(*, now: Any = None) -> int:
    """Mark as interrupted each running (or queued) gathering with nothing finished for
    ``HANDOVER_DISCOVERY_STALE_MINUTES``: its worker died. Its finished outcomes stay; a new run may start."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Max

    from handover.core import clock

    now = now or clock.now()
    limit = now - timedelta(minutes=max(1, int(settings.HANDOVER_DISCOVERY_STALE_MINUTES)))
    actor = system("discovery(stale runs)")
    marked = 0
    open_runs = GatherRun.objects.filter(
        kind=RunKind.GATHER, state__in=[RunState.QUEUED, RunState.RUNNING]
    ).annotate(last=Max("outcomes__finished_at"))
    for run in open_runs:
        last = max(t for t in (run.started_at, run.last) if t is not None)
        if last > limit:
            continue
        with transaction.atomic():
            left = run.outcomes.filter(finished_at__isnull=True).count()
            counts = {**run.counts, "not_reached": left}
            reason = _(
                "Interrupted: nothing finished for %(minutes)s minutes (the worker stopped). "
                "%(left)s targets were not reached; the finished ones are kept. Start a new run."
            ) % {"minutes": settings.HANDOVER_DISCOVERY_STALE_MINUTES, "left": left}
            updated = GatherRun.objects.filter(pk=run.pk, state=run.state).update(
                state=RunState.INTERRUPTED, finished_at=now, reason=reason, counts=counts
            )
            if not updated:
                continue
            event_record(
                actor=actor,
                action=events.RUN_INTERRUPT,
                engagement_id=run.engagement_id,
                site_id=run.site_id,
                obj=run,
                outcome="failure",
                after={
                    "state": RunState.INTERRUPTED.value,
                    "not_reached": left,
                    "last_activity": last.isoformat(),
                },
            )
            marked += 1
    return marked


def _host_key(*, actor: Actor, target: Target, inventory: Inventory) -> None:
    """First contact: record the host key the connector saw (``Inventory.host_key``); a change is the
    connector's refusal (``Status.HOST_KEY_CHANGED``), never silently accepted here."""
    seen = inventory.host_key or dict(inventory.settings).get("host_key", "")
    if seen and not target.host_key:
        target.host_key = seen[:2000]
        target.save(update_fields=["host_key"])
        event_record(
            actor=actor,
            action=events.HOST_KEY_RECORD,
            engagement_id=target.engagement_id,
            site_id=target.site_id,
            obj=target,
            after={"host_key": seen[:200]},
        )


def _counts(inventory: Inventory | None) -> dict[str, int]:
    if inventory is None:
        return {}
    return {
        "accounts": len(inventory.accounts),
        "superusers": sum(a.superuser for a in inventory.accounts),
        "groups": len(inventory.groups),
        "keys": sum(len(a.keys) for a in inventory.accounts),
        "sources": len(inventory.sources),
        "sealed": sum(s.sealed for s in inventory.sources),
    }


def _outcome(
    *,
    actor: Actor,
    outcome: TargetOutcome,
    status: Status,
    snapshot: Snapshot | None = None,
    inventory: Inventory | None = None,
    error: GatherError | None = None,
) -> None:
    outcome.status, outcome.snapshot, outcome.counts = status.value, snapshot, _counts(inventory)
    outcome.reason_en = error.reason_en if error else ""
    outcome.reason_zh = error.reason_zh if error else ""
    outcome.finished_at = timezone.now()
    target = outcome.target
    with transaction.atomic():
        outcome.save()
        event_record(
            actor=actor,
            action=events.TARGET_GATHER,
            engagement_id=target.engagement_id,
            site_id=target.site_id,
            obj=target,
            outcome="success" if status == Status.OK else "failure",
            after={
                "run": outcome.run_id,
                "status": status.value,
                "host": target.asset.hostname,
                "connector": target.connector,
                "counts": outcome.counts,
                "snapshot": snapshot.sha256 if snapshot else None,
                "reason": outcome.reason_en,
            },
        )


def _finish(*, actor: Actor, run: GatherRun) -> GatherRun:
    counts = dict(run.counts)
    statuses = list(run.outcomes.values_list("status", flat=True))
    counts.update(ok=statuses.count(Status.OK.value), failed=len(statuses) - statuses.count(Status.OK.value))
    try:
        with transaction.atomic():
            counts.update(_review_and_draft(actor=actor, run=run))
            _close(actor=actor, run=run, state=RunState.DONE, counts=counts)
            _tell(actor=actor, run=run)
    except DomainError as exc:
        with transaction.atomic():
            _close(actor=actor, run=run, state=RunState.FAILED, counts=counts, reason=str(exc.message))
            _tell(actor=actor, run=run)
    except Exception as exc:  # the review rules' defect: the gathered inventories stay, the run says why
        reason = _("The review or the drafts failed (%(error)s); the inventories were kept.") % {
            "error": type(exc).__name__
        }
        with transaction.atomic():
            _close(actor=actor, run=run, state=RunState.FAILED, counts=counts, reason=reason)
            _tell(actor=actor, run=run)
    run.refresh_from_db()
    return run


def _tell(*, actor: Actor, run: GatherRun) -> None:
    """Per site: its new high-severity findings and its targets that failed, to 技术组 and the site's post."""
    from django.db.models import Count

    from handover.discovery import topics
    from handover.notifications.links import Link
    from handover.notifications.services import notify

    failed = dict(
        run.outcomes.exclude(status=Status.OK.value)
        .values_list("target__site")
        .annotate(n=Count("pk"))
        .values_list("target__site", "n")
    )
    new_high = dict(
        Finding.objects.filter(
            engagement_id=run.engagement_id,
            severity="high",
            first_seen__gte=run.started_at,
            resolved_at__isnull=True,
        )
        .values_list("site")
        .annotate(n=Count("pk"))
        .values_list("site", "n")
    )
    if run.site is not None:  # a run of a subtree tells of that subtree only
        scope = set(Site.objects.filter(path__startswith=run.site.path).values_list("pk", flat=True))
        new_high = {k: v for k, v in new_high.items() if k in scope}
    code = run.engagement.code
    for site in Site.objects.filter(pk__in=set(failed) | set(new_high)).order_by("path"):
        title = _(
            "Discovery at %(site)s: %(high)s new high-severity findings, %(failed)s targets not gathered"
        ) % {
            "site": site.name,
            "high": new_high.get(site.pk, 0),
            "failed": failed.get(site.pk, 0),
        }
        notify(
            actor=actor,
            engagement=run.engagement,
            site=site,
            topic=topics.RUN_ATTENTION,
            title=title,
            summary_title=_("A discovery run needs attention"),
            link=Link("discovery:run", code=code, run_id=run.pk),
        )


def _close(*, actor: Actor, run: GatherRun, state: str, counts: dict[str, Any], reason: str = "") -> None:
    with transaction.atomic():
        GatherRun.objects.filter(pk=run.pk).update(
            state=state, counts=counts, finished_at=timezone.now(), reason=reason
        )
        event_record(
            actor=actor,
            action=events.RUN_FINISH,
            engagement_id=run.engagement_id,
            site_id=run.site_id,
            obj=run,
            outcome="success" if state == RunState.DONE else "failure",
            after={"state": state, "counts": counts},
        )


def _review_and_draft(*, actor: Actor, run: GatherRun) -> dict[str, int]:
    """Review the engagement's current inventories, then draft the registers for this run's good targets."""
    reviewed = reviewing.review_engagement(run.engagement)
    inventories, findings = reviewed if reviewed is not None else ({}, {})
    counts = {
        "findings": sum(len(v) for v in findings.values()),
        "rows_8": 0,
        "rows_9": 0,
        "rows_11": 0,
        "rows_12": 0,
    }
    for snapshot in Snapshot.objects.filter(run=run).select_related(
        "target__system", "target__asset", "target__site", "target__engagement"
    ):
        drafter = drafts.Drafter(actor=actor, target=snapshot.target)
        counts["rows_8"] += 2 if drafts.backup_rows(drafter, snapshot) is not None else 0
        inventory = inventories.get(snapshot.target_id) or _read(snapshot)
        with lookups_cached():  # the host's rows point at the same system, host and backup: read them once
            written = drafts.account_rows(drafter, inventory, findings.get(snapshot.target_id, []))
        for register, n in written.items():
            counts[f"rows_{register}"] += n
    if reviewed is None:
        counts["review"] = 0  # the rules are not installed: nothing concluded
    return counts


def _read(snapshot: Snapshot) -> Inventory:
    from handover.discovery.store import inventory_read

    return inventory_read(snapshot)


# -- offline import -------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    run: GatherRun
    snapshot: Snapshot
    counts: dict[str, Any] = field(default_factory=dict)


def discovery_import(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site,
    system_name: str,
    kind: str,
    path: Path,
    host: str = "",
    display_name: str = "",
) -> ImportResult:
    """Read ``path`` with the connector whose offline kinds include ``kind`` and store it like a gathering.

    A ``ParseError`` names the file and line; nothing is stored from a failing file (everything is in one
    transaction, and the file is read before anything is written).
    """
    require(user=actor, engagement=engagement, capability=perms.RUN_DISCOVERY, site=site)
    manifest = engine.connector_for_kind(kind)
    if manifest is None or manifest.parse is None:
        known = sorted({k for m in engine.connectors_load().values() for k in m.offline_kinds})
        raise DomainError(
            _("There is no importer for the kind %(kind)s; known kinds: %(known)s.")
            % {"kind": kind, "known": ", ".join(known) or "-"},
            field="kind",
        )
    shown = display_name or path.name
    try:
        inventory = manifest.parse(path)
    except ParseError as exc:
        raise DomainError(
            _("%(file)s cannot be imported: %(reason)s Nothing was stored.")
            % {"file": shown, "reason": _localised(exc)},
            field="file",
        ) from None
    except GatherError as exc:
        raise DomainError(_localised(exc), field="file") from None
    except OSError as exc:
        raise DomainError(
            _("%(file)s cannot be read: %(reason)s. Nothing was stored.")
            % {"file": shown, "reason": exc.strerror or exc.__class__.__name__},
            field="file",
        ) from None
    return inventory_store(
        actor=actor,
        engagement=engagement,
        site=site,
        system_name=system_name,
        host=host or inventory.target or path.name,
        manifest=manifest,
        inventory=inventory,
        kind=RunKind.IMPORT,
        source=shown,
    )


def inventory_store(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site,
    system_name: str,
    host: str,
    manifest: Manifest,
    inventory: Inventory,
    kind: str,
    source: str,
    extra: dict[str, Any] | None = None,
) -> ImportResult:
    user, name = _who(actor)
    try:
        with transaction.atomic():
            system_row = entities.system_ensure(
                actor=actor, engagement=engagement, site=site, name=system_name
            )
            asset = entities.asset_ensure(
                actor=actor, engagement=engagement, site=site, hostname=host[:255], system=system_row
            )
            target, _created = Target.objects.get_or_create(
                system=system_row,
                asset=asset,
                connector=manifest.code,
                defaults={"engagement": engagement, "site": site, "address": host[:255]},
            )
            run = GatherRun.objects.create(
                engagement=engagement,
                site=site,
                system=system_row,
                kind=kind,
                state=RunState.RUNNING,
                started_by=user,
                started_by_name=name,
                counts={"targets": 1},
            )
            outcome = TargetOutcome.objects.create(run=run, target=target)
            snapshot = snapshot_save(actor=actor, run=run, target=target, inventory=inventory)
            _outcome(actor=actor, outcome=outcome, status=Status.OK, snapshot=snapshot, inventory=inventory)
            counts = {"targets": 1, "ok": 1, "failed": 0, **_review_and_draft(actor=actor, run=run)}
            GatherRun.objects.filter(pk=run.pk).update(
                state=RunState.DONE, counts=counts, finished_at=timezone.now()
            )
            event_record(
                actor=actor,
                action=events.IMPORT if kind == RunKind.IMPORT else events.BUNDLE_IMPORT,
                engagement_id=engagement.pk,
                site_id=site.pk,
                obj=run,
                after={
                    "file": source,
                    "kind": manifest.code,
                    "system": system_name,
                    "host": host,
                    "snapshot": snapshot.sha256,
                    "counts": counts,
                    **(extra or {}),
                },
            )
    except GatherError as exc:
        raise DomainError(_localised(exc), field="file") from None
    except VaultSealed:
        raise VaultNeeded(
            _(
                "The vault is sealed: %(file)s holds password verifiers, which are kept only sealed in the vault. "
                "Unseal it, then import again. Nothing was stored."
            )
            % {"file": source}
        ) from None
    run.refresh_from_db()
    return ImportResult(run=run, snapshot=snapshot, counts=run.counts)


def discovery_import_upload(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site,
    system_name: str,
    kind: str,
    upload: Any,
    host: str = "",
) -> ImportResult:
    """``discovery_import`` of an uploaded file (the request's size was bounded by core.uploads, kind
    ``import``): copied under its base name into a private temporary folder, read, and removed."""
    import tempfile

    name = Path(str(getattr(upload, "name", "") or "upload")).name or "upload"
    with tempfile.TemporaryDirectory(prefix="handover-discovery-") as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            for chunk in (
                upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 20), b"")
            ):
                out.write(chunk)
        return discovery_import(
            actor=actor,
            engagement=engagement,
            site=site,
            system_name=system_name,
            kind=kind,
            path=path,
            host=host or Path(name).stem,
            display_name=name,
        )


# -- decisions ------------------------------------------------------------------------------------------


def finding_decide(*, actor: Actor, finding: Finding, decision: str, note: str = "") -> Finding:
    """A person's decision on a finding (表11 处理措施). It sets the action of the account's 表11 draft and
    drafts the 表13 change, refused without the permission backup (第二十六条第3项: 在核查各系统用户及其权限
    前，应备份用户权限配置文件). 保留 changes nothing; 修改密码 is a 表10 row, not a 表13 one. The machine signs
    nothing; a re-run never overwrites the decision."""
    require(user=actor, engagement=finding.engagement, capability=perms.RUN_DISCOVERY, site=finding.site)
    if decision not in Decision.values:
        raise DomainError(
            _("Choose one of: %(choices)s.") % {"choices": "、".join(Decision.values)}, field="decision"
        )
    user, name = _who(actor)
    target = finding.target
    with transaction.atomic():
        change = None
        if decision in drafts.CHANGE_TYPE:
            change = _draft_change(actor=actor, finding=finding, decision=Decision(decision))
        finding.decision, finding.decision_note = decision, note
        finding.decided_by, finding.decided_by_name, finding.decided_at = user, name, timezone.now()
        finding.change_row = change
        finding.save()
        event_record(
            actor=actor,
            action=events.FINDING_DECIDE,
            engagement_id=finding.engagement_id,
            site_id=finding.site_id,
            obj=finding,
            after={
                "rule": finding.rule,
                "account": finding.account_name,
                "host": target.asset.hostname,
                "decision": decision,
                "change_row": change.pk if change else None,
            },
        )
    return finding


def _draft_change(*, actor: Actor, finding: Finding, decision: Decision) -> Any:
    target = finding.target
    backup = drafts.backup_row_of(target)
    has_backup = Snapshot.objects.filter(target=target, sources__backup=True).exists()
    if backup is None or not has_backup or finding.account_id is None:
        raise DomainError(
            _(
                "%(account)s on %(host)s has no permission backup yet (第二十六条第3项: back up the user permission "
                "files before any change). Gather or import %(host)s so that its 表8 权限核查前备份 is drafted, "
                "then decide."
            )
            % {"account": finding.account_name, "host": target.asset.hostname},
            field="decision",
        )
    drafter = drafts.Drafter(actor=actor, target=target)
    basis = drafter.rows(11, account_id=finding.account_id) or drafter.rows(12, account_id=finding.account_id)
    if basis and basis[0].form.register_no == 11 and drafts._editable(basis[0]):
        drafter.write(11, {"action": decision.value}, account_id=finding.account_id)
    perm_before = basis[0].data.get("perm_before") or basis[0].data.get("functions") if basis else ""
    data = {
        "change_no": f"{target.site.code}-DISC-{finding.pk:05d}",
        "system_id": target.system_id,
        "account_id": finding.account_id,
        "basis_ref": basis[0].pk if basis else None,
        "change_type": drafts.CHANGE_TYPE[decision],
        "perm_before": perm_before,
        "pre_backup_ref": backup.pk,
    }
    return drafter.write(13, data, change_no=data["change_no"])


def restore_snapshots(*, target: Target, backup: Snapshot | None = None) -> tuple[Snapshot, Snapshot]:
    """The backup a restore puts back and the current snapshot; NotFound before any gathering.

    ``backup`` defaults to the target's first snapshot holding backup sources: the 权限核查前备份 taken before
    anything was reviewed or changed (第二十六条第3项); the current one when there is no other."""
    current = Snapshot.objects.filter(target=target, is_current=True).first()
    if current is None:
        raise NotFound(
            _("%(host)s has not been gathered yet.") % {"host": target.asset.hostname}, field="target"
        )
    if backup is None:
        backup = (
            Snapshot.objects.filter(target=target, sources__backup=True, gathered_at__lte=current.gathered_at)
            .exclude(pk=current.pk)
            .distinct()
            .order_by("gathered_at", "pk")
            .first()
        ) or current
    if backup.target_id != target.pk:
        raise DomainError(_("That backup is of another target."), field="backup")
    return backup, current


def discovery_restore_preview(
    *, actor: Actor, target: Target, backup: Snapshot | None = None
) -> list[dict[str, Any]]:
    """The difference between the permission backup and the current inventory, file by file (第二十六条第3项).

    ``backup`` defaults to the first snapshot holding backup sources. Sealed files (verifiers) are
    compared by digest only and never shown. ``rotation.restores`` applies it, approved by a second person.
    """
    require(user=actor, engagement=target.engagement, capability=perms.VIEW_DISCOVERY, site=target.site)
    backup, current = restore_snapshots(target=target, backup=backup)
    before = {s.name: s for s in backup.sources.filter(backup=True)}
    after = {s.name: s for s in current.sources.filter(backup=True)}
    result = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        state = (
            "added"
            if old is None
            else "removed"
            if new is None
            else "same"
            if old.digest == new.digest
            else "changed"
        )
        sealed = bool((old and old.sealed) or (new and new.sealed))
        lines: list[str] = []
        if state == "changed" and not sealed:
            a, b = source_read(old), source_read(new)  # type: ignore[arg-type]
            if a is not None and b is not None:
                lines = list(
                    difflib.unified_diff(
                        a.decode("utf-8", "replace").splitlines(),
                        b.decode("utf-8", "replace").splitlines(),
                        f"backup/{name}",
                        f"current/{name}",
                        lineterm="",
                    )
                )
        result.append({"name": name, "state": state, "sealed": sealed, "diff": lines})
    return result
