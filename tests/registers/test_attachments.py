"""Evidence files on forms and rows: stored by SHA-256 under the data folder, size-limited, checked by
content (not by name), no secrets in text files, the hash in the audit event, tampering caught on download."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from handover.audit.models import Event
from handover.core.errors import DomainError
from handover.org.models import Role
from handover.registers import attachments, services
from handover.registers.models import Attachment
from tests.factories import t8_values

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.fixture(autouse=True)
def english():
    """The refusals are matched on their English wording; the Chinese is checked by test_translations."""
    with translation.override("en"):
        yield


@pytest.fixture
def scene(world):
    firm_it = world.login_with(Role.FIRM_IT, site=world.branch_a)
    form = services.form_create(
        actor=firm_it,
        engagement=world.engagement,
        site=world.branch_a,
        register_no=8,
        form_date=date(2026, 12, 1),
    )
    row = services.row_add(actor=firm_it, form=form, data=t8_values(world.engagement, world.branch_a))
    return firm_it, form, row


def attach(actor, form, row, name, content):
    return attachments.attachment_add(actor=actor, form=form, row=row, name=name, chunks=[content])


def test_a_scan_is_stored_by_its_hash_with_the_hash_in_the_audit_event(scene, settings):
    firm_it, form, row = scene
    file = attach(firm_it, form, row, "签字页.pdf", PDF)
    digest = hashlib.sha256(PDF).hexdigest()
    assert file.sha256 == digest and file.content_type == "application/pdf" and file.size == len(PDF)
    stored = attachments.stored_path(digest)
    assert stored.read_bytes() == PDF
    assert str(stored).startswith(str(settings.HANDOVER_ATTACHMENT_DIR))
    event = Event.objects.get(action="registers.attachment.add", object_id=str(file.pk))
    assert (
        event.after["sha256"] == digest
        and event.after["row"] == row.pk
        and event.after["name"] == "签字页.pdf"
    )


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("tool.pdf", b"\x7fELF\x02\x01\x01" + bytes(200), "not a file type"),
        ("screen.pdf", PNG, "image/png"),  # named as a PDF, is a PNG
        ("empty.txt", b"", "empty"),
        ("my.cnf", b"[client]\nuser=root\npassword=S3cret-Pass\n", "Line 3"),
        ("run.sh", b"mysql -uroot -pTopSecret42 < dump.sql\n", "Line 1"),
    ],
)
def test_refused_files_leave_nothing_behind(scene, name, content, reason):
    firm_it, form, row = scene
    events = Event.objects.count()
    with pytest.raises(DomainError) as refused:
        attach(firm_it, form, row, name, content)
    assert reason in str(refused.value.message) and name in str(refused.value.message)
    assert not Attachment.objects.exists() and Event.objects.count() == events
    assert not any(p.name.startswith(".upload-") for p in attachments.storage_dir().rglob("*"))


def test_the_size_limit_is_a_setting(scene, settings):
    firm_it, form, row = scene
    settings.HANDOVER_ATTACHMENT_MAX_BYTES = 1024 * 1024
    with pytest.raises(DomainError, match="1 MiB"):
        attachments.attachment_add(
            actor=firm_it, form=form, row=row, name="big.pdf", chunks=[PDF, b"0" * (1024 * 1024)]
        )
    assert not Attachment.objects.exists()
    assert attach(firm_it, form, row, "small.pdf", PDF).size == len(PDF)


def test_text_configuration_files_are_accepted_in_utf8_and_gb18030(scene):
    firm_it, form, row = scene
    assert attach(firm_it, form, row, "nginx.conf", b"worker_processes 2;\n").content_type == "text/plain"
    gbk = "# 营业部交换机配置\nhostname SW-HZ-01\n".encode("gb18030")
    assert attach(firm_it, form, row, "switch.cfg", gbk).content_type == "text/plain"


def test_evidence_goes_on_signed_rows_but_not_on_superseded_versions(world, scene):
    firm_it, form, row = scene
    services.row_sign(actor=firm_it, row=row, kind="executor")
    assert attach(firm_it, form, row, "scan.pdf", PDF).row == row
    new = services.row_correct(actor=firm_it, row=row, data=row.data, reason="补正")
    row.refresh_from_db()
    with pytest.raises(DomainError, match="current version"):
        attach(firm_it, form, row, "late.pdf", PDF)
    assert attach(firm_it, form, new, "late.pdf", PDF).row == new


def test_download_checks_the_hash_and_the_scope(client, world, scene):
    firm_it, form, row = scene
    file = attach(firm_it, form, row, "签字页.pdf", PDF)
    link = reverse(
        "registers:attachment_download", kwargs={"code": world.engagement.code, "attachment_id": file.pk}
    )
    client.force_login(firm_it)
    response = client.get(link)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert "attachment" in response["Content-Disposition"]
    client.force_login(world.login_with(Role.ONSITE_POST, site=world.branch_b))
    assert client.get(link).status_code == 404
    attachments.stored_path(file.sha256).write_bytes(PDF + b"tampered")
    client.force_login(firm_it)
    response = client.get(link)
    assert response.status_code == 400 and "SHA-256" in response.content.decode()


def test_upload_through_the_row_page(client, world, scene):
    firm_it, _form, row = scene
    client.force_login(firm_it)
    link = reverse("registers:row_attach", kwargs={"code": world.engagement.code, "row_id": row.pk})
    client.post(link, {"file": SimpleUploadedFile("a.exe", b"MZ\x90\x00" + bytes(100))})
    assert not Attachment.objects.exists()
    page = client.post(
        link, {"file": SimpleUploadedFile("截图.png", PNG), "description": "备份完成"}, follow=True
    )
    file = Attachment.objects.get()
    body = page.content.decode()
    assert (
        file.description == "备份完成"
        and file.sha256 in body
        and 'data-action="registers.attachment.add"' in body
    )


def test_a_form_level_scan_downloads_within_the_scope_only(client, world, scene):
    """Review L9: a scan of the signed paper attached to the form (no row) was answered 404 to everyone."""
    firm_it, form, _row = scene
    file = attach(firm_it, form, None, "签字页.pdf", PDF)
    assert file.row is None
    link = reverse(
        "registers:attachment_download", kwargs={"code": world.engagement.code, "attachment_id": file.pk}
    )
    client.force_login(firm_it)
    response = client.get(link)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment")
    client.force_login(world.login_with(Role.ONSITE_POST, site=world.branch_b))
    assert client.get(link).status_code == 404
