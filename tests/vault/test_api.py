"""The vault's API: entries without any secret material, reveal requests only on entries in scope, and the
status for those who may unseal."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from handover.org.models import Role
from handover.vault.models import RevealRequest
from tests.vault.helpers import STRONG, put


def test_entries_carry_no_secret_material(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm, world, world.branch_a)
    client = Client()
    client.force_login(firm)
    body = client.get(reverse("api:vault-entry-list", kwargs={"code": world.engagement.code})).json()
    (row,) = body["results"]
    assert row["id"] == str(entry.pk) and row["account"] == "root" and row["versions"] == 1
    assert "sealed" not in row and STRONG not in str(body)


def test_reveal_requests_by_api_stay_in_scope(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    mine = put(firm, world, world.branch_a)
    other = put(world.login_with(Role.FIRM_IT, site=world.branch_b), world, world.branch_b)
    client = Client()
    client.force_login(firm)
    url = reverse("api:vault-request-list", kwargs={"code": world.engagement.code})
    created = client.post(url, {"entry": str(mine.pk), "purpose": "view", "reason": "核对"})
    assert created.status_code == 201 and created.json()["status"] == "pending"
    refused = client.post(url, {"entry": str(other.pk), "purpose": "view", "reason": "越权"})
    assert refused.status_code == 400 and RevealRequest.objects.count() == 1


def test_status_is_for_those_who_may_unseal(vault, world):
    tech, firm = Client(), Client()
    tech.force_login(world.login_with(Role.TECH_GROUP))
    firm.force_login(world.login_with(Role.FIRM_IT, site=world.branch_a))
    status = tech.get(reverse("api:vault-status")).json()
    assert status["sealed"] is False and status["threshold"] == 3
    assert firm.get(reverse("api:vault-status")).status_code == 403
