"""Writes of rotation: draw up a plan, approve it (a second person, 第八条), run it write-ahead.

第二十六条第2项: every super-user's password is changed on the handover day, after its permission files were
backed up (the 表8 改密前备份 gate), and each change is recorded in 表10 with its vault reference and the login
verification. Per account the run goes PLANNED → STAGED (the new secret sealed in the vault as a pending
version, committed) → CHANGED (set on the target: ``chpasswd -e`` with a hash on stdin, committed) → DONE (the
verification ladder: the stored verifier, then a fresh login as the account; the pending version becomes
current as soon as the target is shown to hold it, whatever the login says; abandoned if it does not). A run
stopped anywhere resumes from the recorded step: a STAGED account is changed only if the target does not
already hold the new secret, so a password is never changed twice and the vault's current version always
logs in. At most one login as the account is tried per run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.accounts.models import User
from handover.audit.services import event_record
from handover.connectors import run as connectors_run
from handover.connectors.change import LOCAL, NETWORK, fresh_login, ldap_password
from handover.connectors.change import linux as linux_changer
from handover.connectors.change import mariadb as mariadb_changer
from handover.connectors.change import oracle as oracle_changer
from handover.connectors.change import postgresql as postgresql_changer
from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential
from handover.core import clock, faults
from handover.core.actors import Actor, actor_name, system
from handover.core.errors import DomainError, PermissionDenied
from handover.discovery import drafts
from handover.discovery.models import Fact, Target
from handover.discovery.reviewing import TRADING
from handover.discovery.services import engine_target
from handover.org import permissions as perms
from handover.org.models import Engagement, Phase, Site
from handover.org.selectors import one_side, require_at
from handover.rotation import dependencies, events, verifiers
from handover.rotation.models import ItemState, PlanState, RotationItem, RotationPlan
from handover.vault import passwords
from handover.vault import services as vault
from handover.vault.models import ChangeReason, SecretEntry, SecretKind, VerifyResult
from handover.workflow.deadlines import BEIJING

# connector → the password generator's platform, and its changer (each: change, stored_matches, login_works,
# snapshot; connectors/change/)
logger = logging.getLogger(__name__)

PLATFORMS = {
    "linux": "linux",
    "postgresql": "postgresql",
    "mariadb": "mysql",
    "ldap": "generic",
    "ad": "windows",
    "oracle": "oracle",
}
CHANGERS: dict[str, Any] = {
    "linux": linux_changer,
    "postgresql": postgresql_changer,
    "mariadb": mariadb_changer,
    "ldap": ldap_password.OPENLDAP,
    "ad": ldap_password.ACTIVE_DIRECTORY,
    "oracle": oracle_changer,
}


def _changer(item: RotationItem) -> Any:
    return CHANGERS[item.target.connector]


def plan_create(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site | None = None,
    reason: str = ChangeReason.PERIODIC,
    concurrency: int = 16,
    per_site: int = 4,
    config_paths: Sequence[str] = (),
    due_only: bool = False,
) -> RotationPlan:
    """A plan of every super-user with a vault entry on the live targets in scope (``CHANGERS``). Refused,
    naming the account, when a host's 表8 改密前备份 is missing (第二十六条第2项: back up before changing).
    ``config_paths``: folders and files on the Linux hosts where configuration may hold a password (表10).
    ``due_only``: only the accounts whose periodic change is due (the vault's 下次应修改日期, 表27)."""
    # A plan over the whole engagement needs the right over the whole engagement, not at one site only.
    require_at(user=actor, engagement=engagement, capability=perms.RUN_DISCOVERY, site=site)
    if reason not in ChangeReason.values:
        raise DomainError(_("Unknown reason."), field="reason")
    if not (1 <= concurrency <= 256 and 1 <= per_site <= concurrency):
        raise DomainError(
            _("Hosts at once: from 1 to 256 overall, and per site from 1 to the overall figure."),
            field="concurrency",
        )
    config_paths = dependencies.paths_clean(config_paths)
    targets = Target.objects.filter(
        engagement=engagement, is_active=True, credential__isnull=False, connector__in=list(PLATFORMS)
    ).select_related("asset", "system", "site", "credential__account")
    if site is not None:
        targets = targets.filter(site__path__startswith=site.path)
    wanted: list[tuple[Target, SecretEntry, Any]] = []
    today = clock.now().astimezone(BEIJING).date()
    for target in targets:
        facts = Fact.objects.filter(target=target, superuser=True, account__isnull=False).select_related(
            "account"
        )
        backup = None
        own = target.credential
        for fact in facts:
            entry = SecretEntry.objects.filter(account=fact.account).first()
            mine = own.account.login_name if own is not None and own.account else None
            if entry is None and fact.account is not None and mine == fact.account.login_name:
                entry = own  # the connection's own account, its entry put on another layer of the registers
            if entry is None:
                continue
            if due_only and (entry.next_due_on is None or entry.next_due_on > today):
                continue  # 第三十一条第1项: only what the vault reminds of (表27 下次应修改日期 reached)
            backup = backup or drafts.backup_row_of(target, drafts.CHANGE_BACKUP)
            if backup is None:
                raise DomainError(
                    _(
                        "%(account)s on %(host)s: no 表8 permission backup (改密前备份) of the host yet; gather it "
                        "first (第二十六条第2项)."
                    )
                    % {"account": fact.name, "host": target.asset.hostname},
                    field="targets",
                )
            wanted.append((target, entry, backup))
    if not wanted and due_only:
        raise DomainError(_("No super-user's periodic change is due in this scope (表27 下次应修改日期)."),
                          field="scope")  # fmt: skip
    if not wanted:
        raise DomainError(
            _(
                "No super-user with a vault entry on a live target of a platform rotation supports in this scope."
            ),
            field="scope",
        )
    with transaction.atomic():
        plan = RotationPlan.objects.create(
            engagement=engagement,
            site=site,
            reason=reason,
            created_by=actor if isinstance(actor, User) else None,
            created_by_name=actor_name(actor),
            concurrency=concurrency,
            per_site=per_site,
            config_paths=config_paths,
        )
        RotationItem.objects.bulk_create(
            RotationItem(
                plan=plan, entry=entry, target=target, login_name=entry.account.login_name, backup_row=row
            )
            for target, entry, row in wanted
        )
        event_record(
            actor=actor,
            action=events.PLAN_CREATE,
            engagement_id=engagement.pk,
            site_id=site.pk if site else None,
            obj=plan,
            after={
                "accounts": len(wanted),
                "reason": reason,
                "concurrency": concurrency,
                "per_site": per_site,
                "config_paths": config_paths,
            },
        )
    return plan


def plan_approve(*, actor: Actor, plan: RotationPlan) -> RotationPlan:
    """第八条: one person is never enough: the plan's author cannot approve it."""
    require_at(user=actor, engagement=plan.engagement, capability=perms.MANAGE_WORKFLOW, site=plan.site)
    if not isinstance(actor, User):
        raise PermissionDenied(_("A person approves a rotation plan."))
    if plan.created_by is not None and one_side(a=actor, b=plan.created_by):  # any of their logins
        raise PermissionDenied(_("You drew up this plan: another person must approve it (第八条)."))
    with transaction.atomic():
        locked = RotationPlan.objects.select_for_update().get(pk=plan.pk)
        if locked.state != PlanState.DRAFT:
            raise DomainError(_("This plan is not waiting for approval."), field="plan")
        locked.state, locked.approved_by, locked.approved_at = PlanState.APPROVED, actor, timezone.now()
        locked.approved_by_name = actor_name(actor)
        locked.save(update_fields=["state", "approved_by", "approved_by_name", "approved_at"])
        event_record(
            actor=actor,
            action=events.PLAN_APPROVE,
            engagement_id=locked.engagement_id,
            site_id=locked.site_id,
            obj=locked,
            after={"accounts": locked.items.count()},
        )
    return locked


def plan_start(*, actor: Actor, plan: RotationPlan) -> RotationPlan:
    """Start (or resume) an approved plan's run as a background task (``tasks.plan_run``), recording who
    started it; follow the run on its items. A plan over the whole engagement is started by one who may run
    discovery over the whole engagement."""
    from handover.rotation.tasks import plan_run as run_task

    require_at(user=actor, engagement=plan.engagement, capability=perms.RUN_DISCOVERY, site=plan.site)
    if plan.state not in (PlanState.APPROVED, PlanState.RUNNING):
        raise DomainError(_("Only an approved plan runs."), field="plan")
    event_record(
        actor=actor,
        action=events.PLAN_START,
        engagement_id=plan.engagement_id,
        site_id=plan.site_id,
        obj=plan,
        after={"state": plan.state},
    )
    run_task.enqueue(plan.pk)
    plan.refresh_from_db()
    return plan


def plan_run(*, plan_id: int) -> RotationPlan:
    """Run (or resume) an approved plan: many hosts at once (the plan's ``concurrency`` overall and ``per_site``
    per site), each host's accounts one after another, the connection's own account last on its host.

    The connections run on an event loop in a thread of their own; every database and vault step is done
    here, in the calling thread, in order, each committed before the pipeline goes on (the bridge)."""
    plan = RotationPlan.objects.select_related("engagement").get(pk=plan_id)
    if plan.state not in (PlanState.APPROVED, PlanState.RUNNING):
        raise DomainError(_("Only an approved plan runs."), field="plan")
    RotationPlan.objects.filter(pk=plan.pk).update(state=PlanState.RUNNING)
    actor = system(f"rotation({plan.approved_by_name})")
    items = list(
        plan.items.exclude(state=ItemState.DONE).select_related(
            "entry__account", "target__credential__account", "target__asset", "target__site", "target__system"
        )
    )
    hosts: dict[int, list[RotationItem]] = {}
    for item in sorted(items, key=lambda i: (i.entry_id == i.target.credential_id, i.pk)):  # own account last
        hosts.setdefault(item.target_id, []).append(item)
    work = [(engine_target(group[0].target), group[0].target.site_id, group) for group in hosts.values()]
    bridge = _Bridge()
    bridge.run(_drive(bridge, actor, plan, work, max(1, plan.concurrency), max(1, plan.per_site)))
    with transaction.atomic():
        outcomes = list(plan.items.values_list("outcome", flat=True))
        done = not plan.items.exclude(state=ItemState.DONE).exists()
        RotationPlan.objects.filter(pk=plan.pk).update(
            state=PlanState.DONE if done else PlanState.RUNNING, finished_at=timezone.now() if done else None
        )
        event_record(
            actor=actor,
            action=events.PLAN_FINISH,
            engagement_id=plan.engagement_id,
            site_id=plan.site_id,
            obj=plan,
            outcome="success" if done else "failure",
            after={v or "open": outcomes.count(v) for v in set(outcomes)},
        )
    plan.refresh_from_db()
    return plan


class _Stopped(Exception):
    """The calling thread stopped (a crash at a fault point): the connections' tasks end without a step."""


class _Bridge:
    """Database and vault steps asked for by the event loop's tasks, done in the calling thread in order."""

    def __init__(self) -> None:
        self.requests: queue.Queue[Any] = queue.Queue()
        self.stopped = False

    async def __call__(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self.stopped:
            raise _Stopped
        answer: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.requests.put((fn, args, kwargs, answer))
        return await asyncio.wrap_future(answer)

    def run(self, coroutine: Any) -> None:
        worker = threading.Thread(target=self._loop, args=(coroutine,), name="rotation-run", daemon=True)
        worker.start()
        try:
            while (job := self.requests.get()) is not None:
                fn, args, kwargs, answer = job
                try:
                    answer.set_result(fn(*args, **kwargs))
                except (
                    Exception
                ) as exc:  # the task that asked decides (a GatherError is the account's reason)
                    answer.set_exception(exc)
                except BaseException:  # a crash here: no more steps; the tasks end, then the crash goes on
                    self.stopped = True
                    answer.set_exception(_Stopped())
                    while (job := self.requests.get()) is not None:
                        job[3].set_exception(_Stopped())
                    raise
        finally:
            worker.join()

    def _loop(self, coroutine: Any) -> None:
        try:
            asyncio.run(coroutine)
        except _Stopped:
            pass
        except Exception as exc:  # the run ends; the accounts not reached stay open and say so
            logger.error("rotation run: the connections stopped (%s)", type(exc).__name__)
        finally:
            self.requests.put(None)


async def _drive(bridge: _Bridge, actor: Actor, plan: RotationPlan, work: list[tuple[Any, int, list[RotationItem]]],
                 overall: int, per_site: int) -> None:  # fmt: skip
    limits = connectors_run.Limits(overall, per_site)

    async def host(place: Any, site_id: int, group: list[RotationItem]) -> None:
        async with limits.slot(str(site_id)):
            admins = _Admins(bridge)  # the connection's secret opened once for the host's accounts
            for item in group:
                waiting = await bridge(_in_session, item)
                if waiting:
                    await bridge(_step, actor, item, state=item.state, reason=waiting)
                    continue
                try:
                    await _rotate(bridge, actor, plan, item, place, admins)
                except GatherError as exc:
                    await bridge(
                        _step, actor, item, state=item.state, reason=f"{exc.reason_zh} / {exc.reason_en}"
                    )

    results = await asyncio.gather(*(host(*one) for one in work), return_exceptions=True)
    for result in results:
        if isinstance(result, _Stopped):
            raise result
        if isinstance(result, BaseException):
            logger.error("rotation run: a host's task stopped (%s)", type(result).__name__)


def _in_session(item: RotationItem) -> str:
    """Why ``item`` must wait (第三十一条第3、9项: no change to a trading system in a trading session), or "".
    Its target's system is a trading one (discovery.reviewing.TRADING) and the exchanges are in session now."""
    from handover.core import calendar, clock

    system = item.target.system
    if system is None or system.category not in TRADING or not calendar.in_trading_hours(clock.now()):
        return ""
    sessions = ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in calendar.SESSIONS)
    return _(
        "Waiting: %(system)s is a trading system and the exchanges are in session (%(sessions)s, Beijing time); "
        "run the plan again after the close."
    ) % {"system": system.name, "sessions": sessions}


def _step(actor: Actor, item: RotationItem, *, state: str, reason: str = "", **fields: Any) -> None:
    """Record one step of one account, with its audit event, committed before the next step starts."""
    with transaction.atomic():
        item.state, item.reason = state, reason[:2000]
        for key, value in fields.items():
            setattr(item, key, value)
        item.save()
        event_record(
            actor=actor,
            action=events.ITEM_STEP,
            engagement_id=item.plan.engagement_id,
            site_id=item.target.site_id,
            obj=item.plan,
            after={
                "item": item.pk,
                "account": item.login_name,
                "host": item.target.asset.hostname,
                "state": state,
                "version": item.version_number,
                "outcome": item.outcome,
                "reason": reason[:300],
            },
        )


def _secret(item: RotationItem, *, pending: bool, purpose: str) -> str:
    """The item's new secret (``pending``: its version, still pending or already made current by a run that
    stopped after promoting it), else the entry's current one."""
    number = item.version_number if pending else None
    if number is not None and not item.entry.versions.filter(number=number, pending=True).exists():
        number = None  # promoted before the run stopped: it is the current secret now
    return vault.secret_use_for_task(
        entry_id=item.entry_id,
        purpose=purpose,
        task=f"rotation:{item.plan_id}:{item.pk}",
        pending_number=number,
    )


def connection(item: RotationItem, *, pending_number: int | None, purpose: str, task: str) -> Credential:
    """The connection's credential (the target's vault entry): its current secret or, when the account being
    changed is that very login and the target holds its pending version ``pending_number``, that version (the
    current one once a stopped run promoted it). Rotation's and the revert's (reverts.py) connections."""
    entry = item.target.credential
    assert entry is not None
    number = pending_number if entry.pk == item.entry_id else None
    if number is not None and not entry.versions.filter(number=number, pending=True).exists():
        number = None  # promoted before the run stopped: it is the current secret now
    secret = vault.secret_use_for_task(entry_id=entry.pk, purpose=purpose, task=task, pending_number=number)
    return Credential(entry.account.login_name, secret)


def _admin(item: RotationItem, *, changed: bool) -> Credential:
    """The connection's credential; the new (pending) secret once the target holds it, if it is the account
    being changed."""
    if changed and item.target.credential_id == item.entry_id:
        return connection(item, pending_number=item.version_number, task=f"rotation:{item.plan_id}:{item.pk}",
                          purpose="rotation: connect with the new secret")  # fmt: skip
    return connection(item, pending_number=None, purpose="rotation: connect", task=f"rotation:{item.plan_id}")


class _Admins:
    """The connection's credential for one host's accounts in one run: its current secret opened from the vault
    once for the host (not once per connection: the vault was most of a run's time, docs/benchmarks.md), and
    for the connection's own account, once its host holds the new secret, that pending one. Held only while the
    host's accounts are being rotated."""

    def __init__(self, bridge: _Bridge) -> None:
        self.bridge = bridge
        self.known: dict[tuple[int, bool], Credential] = {}

    async def __call__(self, item: RotationItem, *, changed: bool) -> Credential:
        own = changed and item.target.credential_id == item.entry_id
        key = (item.pk if own else 0, own)
        if key not in self.known:
            self.known[key] = await self.bridge(_admin, item, changed=changed)
        return self.known[key]


async def _holds(place: Any, item: RotationItem, new: str, admins: _Admins) -> bool:
    """Whether the target's stored verifier is the new secret (read with whichever admin secret works)."""
    changer = _changer(item)
    try:
        admin = await admins(item, changed=False)
        return bool(await changer.stored_matches(place, admin, item.login_name, new))
    except GatherError as exc:
        if exc.status is Status.AUTH_FAILED and item.entry_id == item.target.credential_id:
            admin = await admins(item, changed=True)
            return bool(await changer.stored_matches(place, admin, item.login_name, new))
        raise


async def _rotate(
    bridge: _Bridge, actor: Actor, plan: RotationPlan, item: RotationItem, place: Any, admins: _Admins
) -> None:
    """One account's pipeline: each network step here, each database step through the bridge."""
    changer = _changer(item)
    if item.state == ItemState.PLANNED:
        admin = await admins(item, changed=False)
        before = await changer.snapshot(place, admin, item.login_name)
        await dependencies.find_uses(bridge, actor, item, place, admin, plan.config_paths)
        # 第二十八条第1项: the stored verifier this change replaces, sealed for an E01 revert
        verifier = await verifiers.read(changer, place, admin, item.login_name)
        await bridge(_stage, actor, plan, item, before, verifier)
        del verifier
    if item.state == ItemState.STAGED:
        new = await bridge(_secret, item, pending=True, purpose="rotation: set the new secret")
        if not await _holds(place, item, new, admins):  # a resumed run: the change may have happened before
            admin = await admins(item, changed=False)
            await changer.change(place, admin, item.login_name, new)
        del new
        await bridge(_changed, actor, item)
    if item.state == ItemState.CHANGED:
        await _verify(bridge, actor, item, place, admins)


def _stage(
    actor: Actor, plan: RotationPlan, item: RotationItem, before: Any, verifier: str | None = None
) -> None:
    """PLANNED → STAGED: the new secret sealed pending (or the one a stopped run sealed), the stored verifier it
    replaces sealed beside it (rotation/verifiers.py), then recorded."""
    version = _adopt_pending(item)  # a run stopped between sealing and recording it left one
    if version is None:
        new = passwords.generate(passwords.Policy(platform=PLATFORMS[item.target.connector]))
        # 第三十一条第1项: in 稳定期 a change is the periodic one of 表27, on the handover day the one of 表10
        kind = SecretKind.PERIODIC if plan.engagement.phase == Phase.STABILISATION else SecretKind.CHANGED
        version = vault.secret_stage(actor=actor, entry=item.entry, secret=new, reason=plan.reason, kind=kind)
        del new
    faults.point("rotation.after_stage")
    sealed = verifiers.seal(actor=actor, item=item, verifier=verifier, version=version.number)
    _step(actor, item, state=ItemState.STAGED, version_number=version.number, before=before.__dict__,
          previous_verifier=sealed)  # fmt: skip
    faults.point("rotation.after_staged")


def _changed(actor: Actor, item: RotationItem) -> None:
    faults.point("rotation.after_change")
    _step(actor, item, state=ItemState.CHANGED)
    faults.point("rotation.after_changed")


def _adopt_pending(item: RotationItem) -> Any:
    """The entry's live pending version when a run of this item stopped after sealing it and before recording
    it (the target cannot hold it yet: the change comes after the record), else None. A pending version
    another unfinished item holds is that item's: refused, naming its plan."""
    pending = vault.live_pending(item.entry)
    if pending is None:
        return None
    other = (
        RotationItem.objects.filter(entry=item.entry, version_number=pending.number)
        .exclude(pk=item.pk)
        .exclude(state=ItemState.DONE)
        .first()
    )
    if other is not None:
        raise DomainError(
            _("%(account)s is being rotated by plan %(plan)s: finish that plan first.")
            % {"account": item.login_name, "plan": other.plan_id},
            field="plan",
        )
    return pending


def _version(item: RotationItem) -> tuple[Any, bool]:
    assert item.version_number is not None  # staged before it was changed
    version = item.entry.versions.get(number=item.version_number)
    return version, not version.pending and version.abandoned_at is None  # promoted by a run that stopped


async def _verify(bridge: _Bridge, actor: Actor, item: RotationItem, place: Any, admins: _Admins) -> None:
    """CHANGED → DONE: the verification ladder; the vault's current secret is always the target's."""
    changer = _changer(item)
    new = await bridge(_secret, item, pending=True, purpose="rotation: verify the new secret")
    version, promoted = await bridge(_version, item)
    if not await _holds(place, item, new, admins):
        await bridge(_not_held, actor, item, version, promoted)
        return
    admin = await admins(item, changed=True)
    after = await changer.snapshot(place, admin, item.login_name)
    await dependencies.check_uses(bridge, actor, item, place, admin)
    login, rung = await fresh_login(changer, place, item.login_name, new, admin=admin)  # once per run
    del new
    await bridge(_verified, actor, item, version, promoted, after, login, rung)


def _not_held(actor: Actor, item: RotationItem, version: Any, promoted: bool) -> None:
    if promoted:  # the vault's current secret is not on the target: say so, never hide it
        why = _("The vault's current secret is not the target's: verify and reconcile by hand.")
        _step(actor, item, state=ItemState.DONE, outcome=VerifyResult.UNVERIFIED, reason=why)
        return
    vault.secret_abandon(actor=actor, version=version, why="the target does not hold the new secret")
    _step(
        actor,
        item,
        state=ItemState.DONE,
        outcome=VerifyResult.FAILED,
        reason=_("The target does not hold the new password; the old one stays current."),
    )


def _verified(
    actor: Actor,
    item: RotationItem,
    version: Any,
    promoted: bool,
    after: Any,
    login: bool,
    rung: str = NETWORK,
) -> None:
    moved = [key for key, value in after.__dict__.items() if item.before.get(key) != value]
    if moved:
        outcome, reason = (
            VerifyResult.FAILED,
            _("Besides the password, this changed: %(what)s.") % {"what": ", ".join(moved)},
        )
    elif login:
        outcome, reason = VerifyResult.SUCCESS, ""
        if rung == LOCAL:  # each rung recorded as what it was
            reason = _(
                "Verified by a local login (su): a direct login as this account is forbidden on the host."
            )
    else:
        outcome, reason = (
            VerifyResult.UNVERIFIED,
            _(
                "The host holds the new password but a login as the account was refused "
                "(direct login may be forbidden)."
            ),
        )
    if not promoted:
        vault.secret_promote(
            actor=actor, version=version, verified=outcome
        )  # the target holds it: current now
    faults.point("rotation.after_promote")
    row, problem = _draft_t10(actor=actor, item=item, outcome=outcome)
    if outcome == VerifyResult.FAILED and row is not None:  # 第二十八条第1项: the failure opens its E01 case
        from handover.rotation.reverts import e01_open

        problem = " ".join(p for p in (problem, e01_open(actor=actor, item=item, row=row)) if p)
    if outcome == VerifyResult.SUCCESS and item.plan.case_id is not None:  # 第二十八条第2项: E02's reset done
        from handover.rotation.reconcile import e02_ticks

        problem = " ".join(p for p in (problem, e02_ticks(actor=actor, item=item, row=row)) if p)
    faults.point("rotation.after_draft")
    _step(
        actor,
        item,
        state=ItemState.DONE,
        outcome=outcome,
        row=row,
        reason=" ".join(p for p in (reason, problem) if p),
    )


def _draft_t10(*, actor: Actor, item: RotationItem, outcome: str) -> tuple[Any, str]:
    """The 表10 row of the change (a draft: people sign it), with the vault reference and the verification; in
    稳定期 the 表27 row of the periodic change (第三十一条第1项), with its reason, the vault's strength check,
    the previous change's date and the next one due."""
    if item.plan.engagement.phase == Phase.STABILISATION:
        return _draft_t27(actor=actor, item=item, outcome=outcome)
    data = {
        **change_row(item, outcome),
        "pre_backup_ref": item.backup_row_id,
        **dependencies.t10_columns(item),
    }
    entity = item.entry.account
    try:
        row = drafts.Drafter(actor=actor, target=item.target).write(10, data, account_id=entity.pk)
    except DomainError as exc:
        return None, _("表10 not drafted: %(why)s") % {"why": exc.message}
    return row, ""


def change_row(item: RotationItem, outcome: str) -> dict[str, Any]:
    """The columns a change's register row (表10, 表27) takes from the rotated account: system, host, account,
    now as the change's and verification's time, the vault reference, the ladder's outcome."""
    entity = item.entry.account
    now = timezone.localtime().replace(second=0, microsecond=0).isoformat()
    return {
        "system_id": entity.system_id, "asset_id": entity.asset_id, "layer": entity.layer, "account_id": entity.pk,
        "account_class": entity.account_class, "changed_at": now, "secret_changed": True,
        "vault_ref": item.entry.reference, "custody_mode": "密码保管系统", "login_verified": outcome,
        "verified_at": now if outcome != VerifyResult.UNVERIFIED else None,
    }  # fmt: skip


def _draft_t27(*, actor: Actor, item: RotationItem, outcome: str) -> tuple[Any, str]:
    entity, entry = item.entry.account, item.entry
    entry.refresh_from_db(fields=["next_due_on"])  # set by the promotion (vault._stamp): the next change due
    version = entry.versions.filter(number=item.version_number or 0).first()
    previous = (
        entry.versions.filter(number__lt=item.version_number or 0, pending=False, abandoned_at__isnull=True)
        .order_by("-number")
        .first()
    )
    data = {
        **change_row(item, outcome),
        "reason": item.plan.reason,
        # 表27 强度符合 is the vault's check of the generated secret, never a typed confirmation (issue 13)
        "strength_ok": version is not None and version.strength_score >= passwords.MIN_SCORE,
        "last_changed_on": timezone.localdate(previous.created_at).isoformat() if previous else None,
        "next_due_on": entry.next_due_on.isoformat() if entry.next_due_on else None,
        **dependencies.t10_columns(item),
    }
    try:
        drafter = drafts.Drafter(actor=actor, target=item.target)
        row = drafter.write(27, data, account_id=entity.pk, changed_at=data["changed_at"])
    except DomainError as exc:
        return None, _("表27 not drafted: %(why)s") % {"why": exc.message}
    return row, ""
