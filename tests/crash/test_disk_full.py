"""Issue 18: a full disk gives a clear message and loses nothing acknowledged. The data folder's file stores
(attachments, kept bundles, packages) are put on a 2 MiB tmpfs filled to its last byte; each write then refuses
with the disk-full message (no 500), leaves no half-written file or row, and what was stored before is intact.
SQLite's own "database or disk is full" is read from a real database on the same full disk.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from handover.audit.services import chain_verify
from handover.backups import services as backups
from handover.core.actors import system
from handover.core.errors import StorageFull, disk_full
from handover.org.models import Role
from handover.registers import attachments, services
from handover.registers.models import Attachment
from handover.reports import services as reports
from handover.reports.models import HandoverPackage
from tests.factories import t8_values
from tests.reports.support import done_world

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(64 * 1024)


def _fill(folder: Path) -> None:
    """Write to ``folder`` until its file system refuses one more byte (64 KiB pieces, then single bytes)."""
    with (folder / "filler").open("wb", buffering=0) as out:
        for piece in (b"\0" * 65536, b"\0"):
            try:
                while True:
                    out.write(piece)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC


@pytest.fixture
def full_disk(tmp_path: Path, settings) -> Iterator[Path]:
    """A 2 MiB tmpfs as the data folder's stores (attachments, media, packages); filled by ``fill``."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"a full disk needs a tmpfs mount, which is not permitted here: {done.stderr.strip()}")
    try:
        settings.HANDOVER_ATTACHMENT_DIR = mount / "attachments"
        settings.MEDIA_ROOT = mount / "media"
        settings.HANDOVER_PACKAGE_DIR = mount / "packages"
        with translation.override("en"):
            yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


def _left(mount: Path) -> list[str]:
    """Every file on the disk but the filler: what a refused write may not leave behind."""
    return sorted(
        str(p.relative_to(mount)) for p in mount.rglob("*") if p.is_file() and not p.name.startswith("filler")
    )


def _chain_intact() -> None:
    report, _checked = chain_verify(actor=system("test"))
    assert report.ok, report.problems


def test_an_attachment_upload_on_a_full_disk_is_refused_clearly_and_loses_nothing(client, world, full_disk):
    firm_it = world.login_with(Role.FIRM_IT, site=world.branch_a)
    form = services.form_create(
        actor=firm_it,
        engagement=world.engagement,
        site=world.branch_a,
        register_no=8,
        form_date=date(2026, 12, 1),
    )
    row = services.row_add(actor=firm_it, form=form, data=t8_values(world.engagement, world.branch_a))
    kept = attachments.attachment_add(actor=firm_it, form=form, row=row, name="签字页.pdf", chunks=[PDF])
    _fill(full_disk)
    before = _left(full_disk)
    client.force_login(firm_it)
    link = reverse("registers:row_attach", kwargs={"code": world.engagement.code, "row_id": row.pk})
    page = client.post(link, {"file": SimpleUploadedFile("截图.png", PNG)}, follow=True)
    with translation.override("zh-hans"):  # the page speaks the user's language: the message as it says it
        said = str(StorageFull().message)
    assert page.status_code in (200, 507) and said in page.content.decode()
    assert list(Attachment.objects.values_list("pk", flat=True)) == [kept.pk]
    assert _left(full_disk) == before  # no temporary file, no partial one
    assert hashlib.sha256(attachments.stored_path(kept.sha256).read_bytes()).hexdigest() == kept.sha256
    _chain_intact()


def test_a_bundle_file_is_kept_whole_or_not_at_all(db, full_disk):
    """The signed file of a bundle is written under a temporary name and renamed: a full disk refuses it with
    nothing under its name, and a partial file found there (from before this fix) is written again."""
    content = os.urandom(256 * 1024)
    digest, sha = "d" * 64, hashlib.sha256(content).hexdigest()
    name = backups._keep_file(io.BytesIO(content), "c" * 64, hashlib.sha256(content).hexdigest())
    _fill(full_disk)
    before = _left(full_disk)
    with pytest.raises(StorageFull, match="disk is full"):
        backups._keep_file(io.BytesIO(content), digest, sha)
    assert _left(full_disk) == before
    (full_disk / "filler").unlink()
    target = full_disk / "media" / f"fixity-bundles/{digest}.zip"
    target.write_bytes(content[:1000])  # a partial file under the name
    assert backups._keep_file(io.BytesIO(content), digest, sha) == f"fixity-bundles/{digest}.zip"
    assert target.read_bytes() == content and (full_disk / "media" / name).read_bytes() == content


def test_a_package_build_on_a_full_disk_is_refused_with_no_record_and_no_file(db, full_disk):
    world, tech = done_world()
    _fill(full_disk)
    before = _left(full_disk)
    with pytest.raises(StorageFull, match="disk is full"):
        reports.package_build(actor=tech, engagement=world.engagement)
    assert not HandoverPackage.objects.exists() and _left(full_disk) == before
    _chain_intact()


def test_sqlite_on_a_full_disk_is_read_as_a_full_disk(full_disk):
    """The register import writes rows only: on a full disk SQLite refuses the commit, the transaction rolls
    back, and the faces (page, API, command) answer with the disk-full message."""
    database = sqlite3.connect(full_disk / "full.sqlite3")
    database.execute("CREATE TABLE t (x BLOB)")
    database.commit()
    _fill(full_disk)
    with pytest.raises(sqlite3.OperationalError) as refused:
        for _ in range(64):
            database.execute("INSERT INTO t VALUES (?)", (os.urandom(65536),))
        database.commit()
    database.close()
    assert disk_full(refused.value) and not disk_full(sqlite3.OperationalError("no such table: t"))
