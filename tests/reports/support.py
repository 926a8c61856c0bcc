"""Scenery for the package tests: a world whose sites each have a signed handover list (or not)."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

from handover.org.models import Role
from handover.registers.models import Form, FormState, Row
from handover.reports.models import HandoverPackage
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


def done_world() -> tuple[World, object]:
    """Every site has its 表8 signed; returns the world and a 技术组 login."""
    world = World()
    for site in all_sites(world):
        signed_list(world, site)
    return world, world.login_with(Role.TECH_GROUP, username="tech")


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
