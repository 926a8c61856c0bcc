"""Review L7: one vault serves every engagement, so sealing it needs vault_unseal in all of them (or the
deployment's own command line): a 现场技术岗位 of one engagement cannot stop it for the others."""

from __future__ import annotations

import pytest
from django.urls import reverse

from handover.audit.models import Event
from handover.core.actors import system
from handover.core.errors import PermissionDenied
from handover.org.models import Party, Role, RoleAssignment
from handover.vault import events, lifecycle
from tests.factories import PersonFactory, World


@pytest.fixture
def two(db):
    return World(), World()


def test_an_onsite_post_of_one_engagement_cannot_seal_a_vault_that_serves_two(vault, two, client):
    first, _second = two
    onsite = first.login_with(Role.ONSITE_POST, site=first.branch_a)
    tech = first.login_with(Role.TECH_GROUP)
    for actor in (onsite, tech):
        with pytest.raises(PermissionDenied):
            lifecycle.vault_seal(actor=actor)
    client.force_login(onsite)
    client.post(reverse("vault:seal"))
    assert not lifecycle.vault_status().sealed
    assert not Event.objects.filter(action=events.SEAL).exists()


def test_unseal_rights_in_every_engagement_or_the_command_line_may_seal(vault, two):
    first, second = two
    tech = first.login_with(Role.TECH_GROUP)
    there = PersonFactory(
        engagement=second.engagement,
        organisation=second.org,
        site=second.hq,
        user=tech,
        party=Party.ONSITE_POST,
    )
    RoleAssignment.objects.create(
        engagement=second.engagement, person=there, role=Role.ONSITE_POST, site=second.hq
    )
    lifecycle.vault_seal(actor=tech)
    assert lifecycle.vault_status().sealed
    lifecycle.vault_share_enter(actor=system("test"), share_text=vault.shares[0], nonce="")
    lifecycle.vault_seal(actor=system("test"))
    assert lifecycle.vault_status().sealed
    assert Event.objects.filter(action=events.SEAL).count() == 2


def test_the_seal_button_asks_twice_and_is_gone_once_sealed(vault, two, client):
    """UX review M6: 立即封存 sits behind a confirmation that says what sealing does, and is not offered while the
    vault is sealed already."""
    first, _second = two
    tech = first.login_with(Role.TECH_GROUP)
    client.force_login(tech)
    page = client.get(reverse("vault:home")).content.decode()
    assert 'data-testid="seal-confirm"' in page and "<summary" in page and 'data-testid="seal"' in page
    lifecycle.vault_seal(actor=system("test"))
    page = client.get(reverse("vault:home")).content.decode()
    assert 'data-testid="seal"' not in page and 'data-testid="seal-confirm"' not in page
