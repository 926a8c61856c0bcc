"""The vault page shows a rekey or rotation waiting for its new shares (as `handover vault status` does): who
started it, when, how many of the k new shares were entered back; each holder enters theirs on the page, one per
person (DESIGN.md decision 9: one login cannot make a new set current alone), or it is cancelled. No share of
either set ever appears in the page."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from handover.core.actors import system
from handover.org.models import Role
from handover.vault import lifecycle
from handover.vault.models import VaultConfig


def logged_in(user) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = (
        "en"  # the texts asserted below; the Chinese are the catalogue's
    )
    client.force_login(user)
    return client


@pytest.fixture
def pending(db: None) -> tuple[list[str], list[str]]:
    """A 2-of-3 vault (unsealed) and a rekey started from the command line to a new 2-of-3 set, not verified."""
    old = lifecycle.vault_init(actor=system("cli"), shares=3, threshold=2).shares
    progress = lifecycle.QuorumProgress(index=0, nonce="", entered=[], threshold=0)
    for share in old[:2]:
        progress = lifecycle.vault_rekey(
            actor=system("cli"), share_text=share, nonce=progress.nonce, shares=3, threshold=2
        )
    assert progress.done
    return old, progress.shares


def _page(client: Client, *canaries: str) -> str:
    page = client.get(reverse("vault:home"))
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    html = page.content.decode()
    for share in canaries:  # neither the share nor its secret part, in any place of the page
        assert share not in html and share.split("-", 3)[3][:16] not in html
    return html


def test_the_page_shows_the_pending_set_and_one_person_cannot_make_it_current(pending, world):
    old, new = pending
    first = logged_in(world.login_with(Role.TECH_GROUP))
    html = _page(first, *old, *new)
    assert 'data-testid="vault-pending"' in html and "system:cli" in html
    assert VaultConfig.objects.get().pending_set_id in html
    assert "0 of the 2 new shares" in html
    verify = reverse("vault:pending_verify")
    response = first.post(verify, {"share": new[0], "nonce": ""})
    assert response.status_code == 302
    html = _page(first, *old, *new)
    nonce = lifecycle.vault_status().quorum["nonce"]
    assert "1 of the 2 new shares" in html and f'value="{nonce}"' in html
    refused = first.post(verify, {"share": new[1], "nonce": nonce}, follow=True)
    assert "already entered a share in this ceremony" in refused.content.decode()
    config = VaultConfig.objects.get()
    assert config.pending_purpose == "rekey" and lifecycle.vault_status().quorum["entered"] == [1]
    second = logged_in(world.login_with(Role.TECH_GROUP))
    done = second.post(verify, {"share": new[1], "nonce": nonce}, follow=True)
    assert "now the vault&#x27;s shares" in done.content.decode()
    config = VaultConfig.objects.get()
    assert config.pending_purpose == "" and config.set_id == lifecycle.vault_status().set_id
    assert 'data-testid="vault-pending"' not in _page(second, *old, *new)


def test_cancel_needs_the_unseal_right_and_keeps_the_current_shares(pending, world):
    old, new = pending
    set_id = VaultConfig.objects.get().set_id
    firm = logged_in(world.login_with(Role.FIRM_IT, site=world.branch_a))  # no vault_unseal
    assert firm.post(reverse("vault:pending_cancel")).status_code == 403
    assert VaultConfig.objects.get().pending_purpose == "rekey"
    tech = logged_in(world.login_with(Role.TECH_GROUP))
    done = tech.post(reverse("vault:pending_cancel"), follow=True)
    assert "The pending set is cancelled" in done.content.decode()
    config = VaultConfig.objects.get()
    assert (config.pending_purpose, config.set_id) == ("", set_id)
    assert 'data-testid="vault-pending"' not in _page(tech, *old, *new)
