from __future__ import annotations

from datetime import date

import pytest
from django.core.management import CommandError, call_command

from handover.audit.models import Event
from handover.core.actors import system
from handover.core.errors import DomainError
from handover.org import services
from handover.org.models import Engagement, Role


def create(**extra):
    values = {
        "code": "qs",
        "code_name": "青松项目",
        "firm_name": "某证券",
        "custodian_name": "托管方",
        "disposal_date": date(2026, 12, 1),
        **extra,
    }
    return services.engagement_create(actor=system(), **values)


def test_duplicate_code_name_is_refused_naming_the_field_and_nothing_is_written(db):
    create()
    events = Event.objects.count()
    with pytest.raises(DomainError) as refused:
        create(code="other")
    assert refused.value.field == "code_name"
    with pytest.raises(DomainError) as refused:
        create(code_name="另一个")
    assert refused.value.field == "code"
    assert Engagement.objects.count() == 1 and Event.objects.count() == events


def test_the_firm_name_is_not_copied_into_the_audit_trail(db):
    engagement = create()
    event = Event.objects.get(action="org.engagement.create")
    assert engagement.firm_name not in str(event.after) and event.actor_username == "system:cli"


def test_cli_create_reports_a_duplicate_and_a_bad_date(db):
    args = [
        "engagement",
        "create",
        "--code",
        "qs",
        "--code-name",
        "青松项目",
        "--firm-name",
        "某证券",
        "--custodian",
        "托管方",
    ]
    call_command(*args, "--disposal-date", "2026-12-01")
    with pytest.raises(CommandError, match="code"):
        call_command(*args, "--disposal-date", "2026-12-01")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command(*args, "--disposal-date", "1.12.2026")


def test_an_unknown_engagement_in_a_url_is_a_clear_404(client, world):
    client.force_login(world.login_with(Role.TECH_GROUP))
    response = client.get("/e/no-such-engagement/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "no-such-engagement" in page and 'data-testid="error"' in page
