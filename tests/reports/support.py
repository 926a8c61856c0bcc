"""Scenery for the package tests: a world whose sites each have a signed handover list (or not)."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

from django.utils import timezone

from handover.org.models import Phase, Role
from handover.registers.models import Form, FormState, Row
from handover.reports.models import HandoverPackage
from handover.workflow.models import StepInstance, StepNote
from tests.factories import World

DAY = date(2026, 12, 1)


def signed_list(world: World, site, register_no: int = 8, state: str = FormState.SIGNED) -> Form:
    """A form of 表N at ``site`` in ``state``, with one row."""
    form = Form.objects.create(
        engagement=world.engagement,
        site=site,
        register_no=register_no,
        form_no=f"{site.code}-T{register_no:02d}-20261201-001",
        form_date=DAY,
        state=state,
    )
    Row.objects.create(form=form, seq=1, data={}, remarks="测试")
    return form


def all_sites(world: World) -> list:
    return [world.hq, world.region, world.branch_a, world.branch_b, world.service_a]


SUMMARY = "交接工作总结：各站点系统备份、权限核查与改密已完成，详见各交接清单。"


def done_world(*, summary: str = SUMMARY) -> tuple[World, object]:
    """Every site has its 表8 signed, and 技术组's written summary is a note on N-03 (第二十七条第3项; empty
    ``summary``: none); returns the world and a 技术组 login."""
    world = World()
    for site in all_sites(world):
        signed_list(world, site)
    tech = world.login_with(Role.TECH_GROUP, username="tech")
    if summary:
        step = StepInstance.objects.create(
            engagement=world.engagement,
            site=None,
            step_id="N-03",
            phase=Phase.HANDOVER,
            created_at=timezone.now(),
        )
        StepNote.objects.create(step=step, text=summary, author=tech, created_at=timezone.now())
    return world, tech


def working_group_member(world: World, username: str = "wg") -> tuple[object, object]:
    """A login observing the engagement for the 托管工作组, with an authenticator; returns it and its TOTP."""
    from tests.vault.helpers import enrol_totp

    user = world.login_with(Role.OBSERVER, username=username, observer_body="working_group")
    return user, enrol_totp(user)


def approve(world: World, package: HandoverPackage, *, username: str = "wg", **kwargs: object) -> object:
    """The working group's approval of ``package`` by a member in person (第二十七条第4项)."""
    from handover.reports import services
    from tests.vault.helpers import next_code

    user, totp = working_group_member(world, username)
    return services.package_approve(actor=user, package=package, totp_code=next_code(totp), **kwargs)


def rewrite(source: Path, target: Path, *, replace: dict[str, bytes] | None = None,
            add: dict[str, bytes] | None = None, drop: set[str] | None = None) -> Path:  # fmt: skip
    """A copy of the zip at ``source`` with members replaced, added or dropped (a tampered package)."""
    replace, add, drop = replace or {}, add or {}, drop or set()
    buffer = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(buffer, "w") as new:
        for info in old.infolist():
            if info.filename in drop:
                continue
            new.writestr(info.filename, replace.get(info.filename, old.read(info.filename)))
        for name, data in add.items():
            new.writestr(name, data)
    target.write_bytes(buffer.getvalue())
    return target


def stored_package(world: World) -> HandoverPackage:
    """A package row whose file is in place (a small zip, not built): for walking the URLs cheaply."""
    import hashlib

    from django.conf import settings
    from django.utils import timezone

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("package.json", "{}")
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    name = f"{world.engagement.code}-package-{digest[:8]}.zip"
    folder = Path(settings.HANDOVER_PACKAGE_DIR) / world.engagement.code
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return HandoverPackage.objects.create(
        engagement=world.engagement, file_name=name, size=len(data), digest=digest, manifest_digest=digest,
        algorithm="sha256", files=1, checkpoint_seq=0, built_by_name="test", built_at=timezone.now(),
    )  # fmt: skip
