"""The crash matrix in a real process (issue 15): a one-plan run by the real CLI (``python -m handover rotation
run``) in a child process with ``HANDOVER_FAULT=<point>`` in its environment, so that it dies by
``os._exit(137)`` at that step boundary with nothing flushed; then the same CLI, with no fault, as the recovery.

What the child needs and how it gets it, nothing secret on its command line:
- the test's data, committed: ``committed_database`` copies the migrated test database (PostgreSQL: ``CREATE
  DATABASE … TEMPLATE``; SQLite: the backup API) and points this process at the copy, outside pytest-django's
  per-test transaction, so that the child sees what the test wrote and the test sees what the child wrote;
- the vault's master key: this process's own key keeper, served on the data folder's socket for the time of
  the test (``keeper_served``); the keeper's caller secret reaches the child through a pipe
  (``vault.keeper.secret.hand_over``), as ``handover serve`` hands it to its workers.

On the server side each platform says how to read the account's stored verifier out of band (the shadow file,
pg_authid over the local socket, mysql.user and the general log, slapd's entry as its rootdn), so that a second
change is seen even when the vault's view is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connections

from handover.audit import selectors as audit_selectors
from handover.audit.verify import verify_rows
from handover.core import faults
from handover.discovery.services import engine_target
from handover.org.models import Role
from handover.rotation import services as rotation
from handover.rotation.models import ItemState, PlanState, RotationItem, RotationPlan
from handover.vault import lifecycle
from handover.vault import services as vault
from handover.vault.keeper import secret as keeper_secret
from handover.vault.keeper.server import bind
from handover.vault.models import SecretVersion, VerifyResult
from tests.connectors.crash_matrix import POINTS

KILLED = 137  # os._exit(137) at the fault point, as after SIGKILL


@contextlib.contextmanager
def migrated_test_database() -> Iterator[None]:
    """The migrated test database: pytest-django sets it up only when a test of the session asks for ``db``,
    which a test holding its own database does not; then it is set up here, and torn down after."""
    from django.test.utils import setup_databases, teardown_databases

    connection = connections["default"]
    if connection.settings_dict["NAME"] == connection.creation._get_test_db_name():
        yield
        return
    config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    try:
        yield
    finally:
        teardown_databases(config, verbosity=0)


@contextlib.contextmanager
def committed_database() -> Iterator[str]:
    """A copy of the migrated test database that this process uses with autocommit for the time of the block;
    yields the database URL a child process opens. The caller holds ``django_db_blocker.unblock()``."""
    connection = connections["default"]
    original = connection.settings_dict["NAME"]
    connections.close_all()
    if connection.vendor == "postgresql":
        copy = f"crash_{uuid.uuid4().hex[:12]}"
        with connection._nodb_cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{original}" STRATEGY FILE_COPY')
        url = urlunsplit(urlsplit(os.environ["HANDOVER_DATABASE_URL"])._replace(path=f"/{copy}"))
    else:
        copy = str(Path(original).with_name(f"crash-{uuid.uuid4().hex[:12]}.sqlite3"))
        with sqlite3.connect(original) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        url = f"sqlite:///{copy}"
    connection.settings_dict["NAME"] = copy
    try:
        yield url
    finally:
        connections.close_all()
        connection.settings_dict["NAME"] = original
        if connection.vendor == "postgresql":
            with connection._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(copy + suffix).unlink(missing_ok=True)


@contextlib.contextmanager
def keeper_served(token: str) -> Iterator[Path]:
    """This process's own (unsealed) keeper on the data folder's socket, for children holding ``token``."""
    path = Path(settings.DATA_DIR) / "vault-keeper.sock"
    path.parent.mkdir(parents=True, exist_ok=True)
    server = bind(path, token)
    server.keeper = lifecycle.local_keeper()  # the key this process's vault_init left in its keeper
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        path.unlink(missing_ok=True)


@dataclass
class Child:
    """How to start ``handover rotation run`` in a child process against the committed database."""

    database_url: str
    token: str

    def args(self, plan_id: int) -> list[str]:
        return [sys.executable, "-m", "handover", "rotation", "run", str(plan_id)]

    def env(self, fault: str | None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key != faults.ENV}
        env.update(
            PYTHONPATH=os.pathsep.join(sys.path),
            DJANGO_SETTINGS_MODULE="handover.settings.test",
            HANDOVER_DATABASE_URL=self.database_url,
            HANDOVER_DATA_DIR=str(settings.DATA_DIR),
            HANDOVER_VAULT_KEEPER="socket",
        )
        if fault:
            env[faults.ENV] = fault
        return env

    def run(self, plan_id: int, fault: str | None = None) -> subprocess.CompletedProcess[str]:
        env, read_end = keeper_secret.hand_over(self.token, self.env(fault))
        try:
            return subprocess.run(
                self.args(plan_id), env=env, pass_fds=(read_end,), capture_output=True, text=True
            )
        finally:
            os.close(read_end)


@contextlib.contextmanager
def child_runner(database_url: str) -> Iterator[Child]:
    token = keeper_secret.new_secret()
    with keeper_served(token):
        yield Child(database_url, token)


@dataclass
class Platform:
    """One platform's out-of-band view of an account on the server.

    ``mark(login)``: what changes whenever the account's password is set (its stored verifier; with an
    unsalted hash, also the count of password statements in the server's log); ``changes(a, b)``: how many
    times it was set between two marks; ``holds(login, secret)``: whether the stored verifier is ``secret``'s."""

    changer: Any
    mark: Callable[[str], Any]
    changes: Callable[[Any, Any], int]
    holds: Callable[[str, str], bool]


def salted_changes(before: Any, after: Any) -> int:
    """A salted verifier (sha512-crypt, SCRAM, SSHA) differs after every change, even to the same secret."""
    return int(before != after)


def _secret_of(entry_id: Any, number: int | None = None) -> str:
    return vault.secret_use_for_task(entry_id=entry_id, purpose="test: crash matrix", pending_number=number)


def _admin(target: Any) -> Any:
    from handover.connectors.manifest import Credential

    return Credential(target.credential.account.login_name, _secret_of(target.credential_id))


def _after_crash(platform: Platform, item: RotationItem, point: str) -> None:
    """The account holds either its vault's current secret, or the live pending one that its item recorded
    (which the recovery adopts): never a secret the vault does not have."""
    current = _secret_of(item.entry_id)
    if platform.holds(item.login_name, current):
        return
    pending = vault.live_pending(item.entry)
    assert pending is not None, (point, item.login_name, "the server holds neither the current nor a pending")
    assert item.version_number == pending.number and item.state in (ItemState.STAGED, ItemState.CHANGED), (
        point,
        item.login_name,
        item.state,
    )
    assert platform.holds(item.login_name, _secret_of(item.entry_id, pending.number)), (
        point,
        item.login_name,
    )


def matrix_in_children(
    world: Any, tech: Any, target: Any, platform: Platform, child: Child, account: str
) -> None:
    """Every point of ``POINTS``: a plan of ``account`` alone run by a child killed there, then recovered by
    another child."""
    other = world.login_with(Role.TECH_GROUP)
    place = engine_target(target)
    before = None
    for point in POINTS:
        plan = rotation.plan_create(actor=tech, engagement=world.engagement)
        plan.items.exclude(login_name=account).delete()  # a one-account plan: each account costs a run's time
        rotation.plan_approve(actor=other, plan=plan)
        logins = list(plan.items.order_by("pk").values_list("login_name", flat=True))
        assert logins == [account], logins
        admin = _admin(target)
        if before is None:
            before = {login: asyncio.run(platform.changer.snapshot(place, admin, login)) for login in logins}
        marks = [{login: platform.mark(login) for login in logins}]
        _no_secret_given(child, plan.pk, logins)
        crashed = child.run(plan.pk, fault=point)
        assert crashed.returncode == KILLED, (point, crashed.returncode, crashed.stderr[-2000:])
        marks.append({login: platform.mark(login) for login in logins})
        for item in RotationItem.objects.filter(plan=plan).select_related("entry"):
            _after_crash(platform, item, point)
        recovered = child.run(plan.pk)
        assert recovered.returncode == 0, (point, recovered.stderr[-2000:])
        marks.append({login: platform.mark(login) for login in logins})
        _recovered(platform, plan.pk, point, place, marks)
        admin = _admin(target)
        after = {login: asyncio.run(platform.changer.snapshot(place, admin, login)) for login in logins}
        assert after == before, point  # lock state, rights, expiry: as before the crash
    report = verify_rows(audit_selectors.chain_rows(), algorithm=settings.HANDOVER_AUDIT_HASH)
    assert report.ok, report.problems


def _recovered(platform: Platform, plan_id: int, point: str, place: Any, marks: list[dict[str, Any]]) -> None:
    plan = RotationPlan.objects.get(pk=plan_id)
    items = list(
        RotationItem.objects.filter(plan=plan).select_related("entry", "target__credential__account")
    )
    assert plan.state == PlanState.DONE, (point, [(i.login_name, i.state, i.reason) for i in items])
    for item in items:
        login = item.login_name
        assert (item.state, item.outcome) == (ItemState.DONE, VerifyResult.SUCCESS), (
            point,
            login,
            item.reason,
        )
        assert not SecretVersion.objects.filter(entry=item.entry, pending=True, abandoned_at__isnull=True)
        changed = platform.changes(marks[0][login], marks[1][login]) + platform.changes(
            marks[1][login], marks[2][login]
        )
        assert changed == 1, (point, login, changed)  # one change over the killed run and its recovery
        current = _secret_of(item.entry_id)
        assert platform.holds(login, current), (point, login)
        admin = _admin(item.target)
        assert asyncio.run(platform.changer.login_works(place, login, current, admin=admin)), (point, login)


def _no_secret_given(child: Child, plan_id: int, logins: list[str]) -> None:
    """Neither the child's arguments nor its environment carry a secret of the vault (or the keeper's)."""
    from handover.registers.models import Account

    given = "\0".join([*child.args(plan_id), *child.env(None).values()])
    assert child.token not in given
    for account in Account.objects.filter(login_name__in=logins).select_related("vault_entry"):
        entry = account.vault_entry
        pending = vault.live_pending(entry)
        assert _secret_of(entry.pk) not in given
        assert pending is None or _secret_of(entry.pk, pending.number) not in given
