"""The auditor's page: list, filter, export (xlsx, CSV); reading and exporting are themselves recorded;
auditors see their engagements' events and account events, nothing else."""

from __future__ import annotations

import csv
import io

import openpyxl

from handover.audit.models import Event
from handover.audit.services import event_record
from handover.org.models import Role
from tests.factories import EngagementFactory


def seed(world):
    other = EngagementFactory()
    event_record(actor=None, action="org.site.create", engagement_id=world.engagement.pk, obj=world.branch_a)
    event_record(
        actor=None,
        action="org.site.create",
        engagement_id=other.pk,
        object_type="org.site",
        object_id="999",
        after={"name": "别家营业部"},
    )
    event_record(actor=None, action="accounts.login.failed", object_type="accounts.user", object_id="x")
    return other


def test_auditor_lists_and_filters_own_engagement_and_account_events(client, world):
    other = seed(world)
    auditor = world.login_with(Role.AUDITOR)
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    assert "org.site.create" in page and "accounts.login.failed" in page
    ids = set(Event.objects.filter(engagement_id=other.pk).values_list("seq", flat=True))
    assert ids and not any(f"<td>{seq}</td>" in page for seq in ids)
    filtered = client.get("/audit/", {"action": "accounts.login.failed"}).content.decode()
    assert "accounts.login.failed" in filtered and '<code class="hash">org.site.create' not in filtered
    assert Event.objects.filter(action="audit.view", actor_id=auditor.pk).count() == 2


def test_xlsx_export_opens_and_is_recorded(client, world):
    seed(world)
    auditor = world.login_with(Role.AUDITOR)
    client.force_login(auditor)
    response = client.get("/audit/export.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert len(rows) >= 3 and rows[0][0] in ("Seq", "序号")
    assert not any("别家营业部" in str(cell) for row in rows for cell in row)
    assert Event.objects.filter(action="audit.export", actor_id=auditor.pk).exists()


def test_csv_export_streams_with_a_bom_for_spreadsheet_programs(client, world):
    seed(world)
    client.force_login(world.login_with(Role.AUDITOR))
    response = client.get("/audit/export.csv", {"action": "org.site.create"})
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 2 and "org.site.create" in rows[1][5]


def test_technical_group_cannot_read_the_trail(client, world):
    client.force_login(world.login_with(Role.TECH_GROUP))
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
