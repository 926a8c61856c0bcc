"""The package build as a job of the task worker: the page asks and follows it (queued, n of m sites, done, failed
with the reason), the annexes are exported once and reused, the versions chosen at the start are the ones
annexed, and no transaction is open while the annexes are exported — another connection signs meanwhile."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from handover.audit.models import Event
from handover.core import clock
from handover.org.models import Role
from handover.registers import events as register_events
from handover.registers import services as registers
from handover.registers.models import Form, FormState
from handover.reports import services
from handover.reports.models import AnnexFile, BuildState, HandoverPackage, PackageBuild
from handover.reports.services import annexes
from tests.reports.support import all_sites, done_world, signed_list

pytestmark = pytest.mark.django_db


def _exports() -> int:
    """The exports of annexes (表24's own, new at each build, aside)."""
    return Event.objects.filter(action=register_events.EXPORT).exclude(object_id="24").count()


def test_the_page_asks_the_worker_and_follows_the_build_to_its_package():
    world, tech = done_world()
    client = Client()
    client.force_login(tech)
    url = reverse("reports:package_list", kwargs={"code": world.engagement.code})
    # Queued: asked, the worker not there yet. The page says so and reloads itself.
    queued = services.package_build_request(actor=tech, engagement=world.engagement)
    page = client.get(url).content.decode()
    assert f'data-testid="build-{queued.pk}" data-state="queued"' in page and 'http-equiv="refresh"' in page
    # A second build is refused while one is under way.
    response = client.post(url, {"algorithm": "sha256"})
    assert response.status_code == 400 and not PackageBuild.objects.exclude(pk=queued.pk).exists()
    services.package_build_run(build_id=queued.pk)
    # The page's button enqueues the task; the test settings' backend runs it at once.
    response = client.post(url, {"algorithm": "sha256"})
    assert response.status_code == 302
    asked = PackageBuild.objects.exclude(pk=queued.pk).get()
    assert asked.state == BuildState.DONE and asked.package is not None
    assert (asked.sites_done, asked.sites_total) == (5, 5)
    page = client.get(url).content.decode()
    assert asked.package.file_name in page and 'http-equiv="refresh"' not in page


def test_a_failed_build_shows_its_reason_and_leaves_nothing():
    world, tech = done_world()
    build = services.package_build_request(actor=tech, engagement=world.engagement)
    signed_list(world, world.branch_b, register_no=10, state=FormState.DRAFT)  # after the ask, before the run
    done = services.package_build_run(build_id=build.pk)
    assert done.state == BuildState.FAILED and "乙营业部（BB）" in done.reason and done.package is None
    assert not HandoverPackage.objects.exists() and not Form.objects.filter(register_no=24).exists()
    client = Client()
    client.force_login(tech)
    page = client.get(
        reverse("reports:package_list", kwargs={"code": world.engagement.code})
    ).content.decode()
    assert 'data-state="failed"' in page and "乙营业部（BB）" in page


def test_progress_counts_the_sites_as_their_annexes_are_ready():
    world, tech = done_world()
    seen = []

    def progress(done: int, total: int) -> None:
        row = PackageBuild.objects.get()
        seen.append((done, total, row.sites_done, row.state))

    services.package_build(actor=tech, engagement=world.engagement, progress=progress)
    assert [s[:3] for s in seen] == [(n, 5, n) for n in range(6)]
    assert {s[3] for s in seen} == {BuildState.RUNNING}


def test_a_second_build_reuses_the_annexes_and_a_changed_file_is_exported_again(settings):
    """The PDF prints its export's minute: the clock is held so that a re-export is the same bytes."""
    with clock.frozen(clock.now()):
        _second_build_reuses(settings)


def _second_build_reuses(settings) -> None:
    world, tech = done_world()
    first = services.package_build(actor=tech, engagement=world.engagement)
    exported = _exports()
    assert AnnexFile.objects.count() == 10  # 5 signed lists × xlsx and PDF
    second = services.package_build(actor=tech, engagement=world.engagement)
    assert _exports() == exported  # no annex exported again
    assert (second.build.annexes_reused, second.build.annexes_exported) == (10, 0)

    def annexes_of(package):
        with zipfile.ZipFile(services.package_path(package)) as archive:
            return {n: archive.read(n) for n in archive.namelist() if n.startswith("annexes/")}

    assert annexes_of(first) == annexes_of(second)
    stored = next(annexes.annex_store(world.engagement).rglob("BA-*.pdf"))
    stored.write_bytes(b"tampered")
    third = services.package_build(actor=tech, engagement=world.engagement)
    assert (third.build.annexes_reused, third.build.annexes_exported) == (9, 1)
    assert annexes_of(third) == annexes_of(first)
    assert stored.read_bytes() != b"tampered"


def test_a_version_signed_during_the_build_is_named_not_annexed_and_no_transaction_is_held():
    """At the first site's progress (the barrier), the build holds no transaction of its own (only the test's),
    and a new version of a form is corrected and signed through the services; the build goes on after it."""
    world, tech = done_world()
    form = signed_list(world, world.branch_a, register_no=12)
    firm_it = world.login_with(Role.FIRM_IT, site=world.branch_a, username="firm_it")
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a, username="onsite")
    outer = len(connection.atomic_blocks)  # the test's own transaction
    outcome: list[object] = []

    def sign_a_new_version() -> None:
        new = registers.form_correct(actor=firm_it, form=form, reason="补充说明")
        Form.objects.filter(pk=new.pk).update(
            state=FormState.SUBMITTED
        )  # its test row has no columns to check
        new.refresh_from_db()
        registers.form_sign(actor=firm_it, form=new)
        registers.form_sign(actor=onsite, form=new)
        outcome.append(Form.objects.get(pk=new.pk).state)

    def progress(done: int, total: int) -> None:
        if done == 1:
            outcome.append(len(connection.atomic_blocks) - outer)  # 0: nothing held while exporting
            sign_a_new_version()

    package = services.package_build(actor=tech, engagement=world.engagement, progress=progress)
    assert outcome == [0, FormState.SIGNED]
    with zipfile.ZipFile(services.package_path(package)) as archive:
        names = archive.namelist()
        metadata = json.loads(archive.read("package.json"))
    assert f"annexes/BA/{form.form_no}-v1.xlsx" in names and f"annexes/BA/{form.form_no}-v2.xlsx" not in names
    assert metadata["signed_after_chosen_not_annexed"] == [f"表12 {form.form_no} v2"]
    chosen = {(a["form"], a["version"]) for a in metadata["annexes"]}
    assert (form.form_no, 1) in chosen and (form.form_no, 2) not in chosen
    snapshot = PackageBuild.objects.get().snapshot
    assert [form.pk, form.form_no, 1] in [entry[:3] for entry in snapshot]
    # 表24 was computed with the snapshot: its line for 表12 at 甲营业部 refers to v1.
    table24 = package.table24.get()
    refs = [
        r.data.get("annex_ref", "") for r in table24.rows.all() if form.form_no in r.data.get("annex_ref", "")
    ]
    assert refs and all(f"{form.form_no} v1" in ref for ref in refs)


def test_an_interrupted_build_is_marked_and_a_new_one_may_start(settings):
    world, tech = done_world()
    stuck = services.package_build_request(actor=tech, engagement=world.engagement)
    PackageBuild.objects.filter(pk=stuck.pk).update(
        state=BuildState.RUNNING, beat_at=stuck.created_at - services.jobs.STALE
    )
    package = services.package_build(actor=tech, engagement=world.engagement)
    stuck.refresh_from_db()
    assert (
        stuck.state == BuildState.FAILED
        and stuck.reason.startswith(
            ("Interrupted", "已中断")
        )  # stored in the language of the page that asked
        and package.build.state == "done"
    )
    assert len(all_sites(world)) == package.build.sites_total


def test_a_form_signed_is_exported_at_once_and_the_build_reuses_it(
    settings, django_capture_on_commit_callbacks
):
    settings.HANDOVER_PACKAGE_EXPORT_AT_SIGNING = True
    world, tech = done_world()
    form = signed_list(world, world.branch_a, register_no=12, state=FormState.SUBMITTED)
    firm_it = world.login_with(Role.FIRM_IT, site=world.branch_a, username="firm_it")
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a, username="onsite")
    with django_capture_on_commit_callbacks(execute=True):
        registers.form_sign(actor=firm_it, form=form)
    assert not AnnexFile.objects.exists()  # one signature of two: not signed yet
    with django_capture_on_commit_callbacks(execute=True):
        registers.form_sign(actor=onsite, form=form)
    assert set(AnnexFile.objects.values_list("form_id", "fmt")) == {(form.pk, "xlsx"), (form.pk, "pdf")}
    package = services.package_build(actor=tech, engagement=world.engagement)
    assert (package.build.annexes_reused, package.build.annexes_exported) == (2, 10)


def test_the_sweep_removes_only_what_builds_no_longer_running_left(settings):
    """``handover package sweep`` (the worker runs it at start): a build whose process is gone is marked
    interrupted and its folder removed; a build whose process runs (this one) keeps its folder, and while it
    runs no zip of its engagement is touched; then the zip without a record goes. A queued build is left."""
    world, tech = done_world()
    code = world.engagement.code
    folder = Path(settings.HANDOVER_PACKAGE_DIR) / code
    folder.mkdir(parents=True, exist_ok=True)
    here = socket.gethostname()
    dead, live, queued = (
        PackageBuild.objects.create(
            engagement=world.engagement,
            requested_by=tech,
            requested_by_name="tech",
            state=state,
            beat_at=timezone.now(),
            runner=runner,
        )
        for state, runner in (
            (BuildState.RUNNING, f"{here}:{_gone_pid()}"),
            (BuildState.RUNNING, f"{here}:{os.getpid()}"),
            (BuildState.QUEUED, ""),
        )
    )
    for build in (dead, live):
        (folder / f".build-{build.pk}-x").mkdir()
    stray = folder / "stray.zip"
    stray.write_bytes(b"PK")
    assert services.package_sweep() == [f"{code}/.build-{dead.pk}-x"]
    assert stray.exists() and (folder / f".build-{live.pk}-x").is_dir()
    dead.refresh_from_db()
    assert dead.state == BuildState.FAILED and dead.reason.startswith(("Interrupted", "已中断"))
    PackageBuild.objects.filter(pk=live.pk).update(state=BuildState.DONE)
    assert sorted(services.package_sweep()) == [f"{code}/.build-{live.pk}-x", f"{code}/stray.zip"]
    queued.refresh_from_db()
    assert queued.state == BuildState.QUEUED


def _gone_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
