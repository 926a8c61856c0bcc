"""The system administrator manages logins and nothing else (三权分立)."""

from __future__ import annotations

import re

from handover.accounts.models import User
from handover.audit.models import Event
from handover.org.models import Role


def test_sysadmin_creates_a_login_and_sees_its_enrolment_link_once_never_a_password(client, world):
    admin = world.login_with(Role.SYSADMIN)
    client.force_login(admin)
    page = client.post(
        "/accounts/manage/new/", {"username": "newcomer", "display_name": "新同事"}
    ).content.decode()
    code = re.search(r'data-testid="enrolment-code">([^<]+)<', page).group(1)
    newcomer = User.objects.get(username="newcomer")
    assert not newcomer.has_usable_password() and not newcomer.is_enrolled
    assert code not in client.get("/accounts/manage/").content.decode()
    dump = " ".join(str(v) for row in Event.objects.values() for v in row.values())
    assert code not in dump
    assert Event.objects.filter(action="accounts.user.create", actor_id=admin.pk).exists()
    assert Event.objects.filter(action="accounts.enrolment.issued", actor_id=admin.pk).exists()


def test_sysadmin_unlocks_and_deactivates(client, world):
    from django.utils import timezone

    admin = world.login_with(Role.SYSADMIN)
    target = world.login_with(Role.FIRM_IT, site=world.branch_a)
    User.objects.filter(pk=target.pk).update(locked_until=timezone.now() + timezone.timedelta(minutes=10))
    client.force_login(admin)
    client.post(f"/accounts/manage/{target.pk}/unlock/")
    target.refresh_from_db()
    assert not target.is_locked()
    client.post(f"/accounts/manage/{target.pk}/deactivate/")
    target.refresh_from_db()
    assert not target.is_active


def test_sysadmin_sees_no_engagement_data(client, world):
    client.force_login(world.login_with(Role.SYSADMIN))
    code = world.engagement.code
    for url in (f"/e/{code}/", f"/e/{code}/people/", f"/e/{code}/sites/{world.branch_a.pk}/", "/audit/"):
        assert client.get(url).status_code in (403, 404), url
