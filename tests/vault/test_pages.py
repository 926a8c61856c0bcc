"""The vault's pages: the unseal ceremony with its nonce, a capture form that never echoes, the reveal shown
once and never cached, the sealed state said plainly, and the site page's overdue block (表27)."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from handover.core.actors import system
from handover.org.models import Role
from handover.vault import lifecycle
from handover.vault.models import RevealRequest, SecretEntry
from tests.vault.helpers import STRONG, enrol_totp, next_code, put


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_unseal_page_shows_progress_and_keeps_ceremonies_apart(vault, world):
    tech = logged_in(world.login_with(Role.TECH_GROUP))
    lifecycle.vault_seal(actor=system("test"))
    page = tech.get(reverse("vault:home"))
    assert b'data-testid="vault-sealed"' in page.content and page["Cache-Control"].startswith("max-age=0")
    tech.post(reverse("vault:home"), {"share": vault.shares[0], "nonce": ""})
    status = lifecycle.vault_status()
    page = tech.get(reverse("vault:home")).content.decode()
    assert status.nonce in page and f'value="{status.nonce}"' in page
    assert vault.shares[0] not in page
    tech.post(reverse("vault:home"), {"share": vault.shares[1], "nonce": "0" * 16})
    assert lifecycle.vault_status().entered == [1]
    tech.post(reverse("vault:home"), {"share": vault.shares[1], "nonce": status.nonce})
    tech.post(reverse("vault:home"), {"share": vault.shares[2], "nonce": status.nonce})
    assert not lifecycle.vault_status().sealed
    assert b'data-testid="vault-unsealed"' in tech.get(reverse("vault:home")).content


def test_capture_never_echoes_and_sealed_is_said_plainly(vault, world):
    firm = logged_in(world.login_with(Role.FIRM_IT, site=world.branch_a))
    url = reverse("vault:entry_capture", kwargs={"code": world.engagement.code})
    data = {
        "site": world.branch_a.pk,
        "system": "柜台",
        "new_system": "on",
        "login_name": "root",
        "layer": "操作系统",
        "account_class": "超级用户",
        "kind": "changed",
        "custody_mode": "密码保管系统",
        "platform": "generic",
        "length": 20,
        "secret": "weakpass1",
        "secret_again": "weakpass1",
    }
    refused = firm.post(url, data)
    assert refused.status_code == 200 and b"weakpass1" not in refused.content
    assert b"errorlist" in refused.content and not SecretEntry.objects.exists()
    stored = firm.post(url, {**data, "secret": STRONG, "secret_again": STRONG})
    assert stored.status_code == 302 and SecretEntry.objects.count() == 1
    lifecycle.vault_seal(actor=system("test"))
    sealed = firm.post(url, {**data, "login_name": "oracle", "secret": STRONG, "secret_again": STRONG})
    assert b'data-testid="vault-sealed"' in sealed.content and STRONG.encode() not in sealed.content
    listing = firm.get(reverse("vault:entry_list", kwargs={"code": world.engagement.code}))
    assert listing.status_code == 200 and b'data-testid="vault-sealed"' in listing.content


def test_the_reveal_page_shows_once_and_is_not_cached(vault, world):
    firm_user = world.login_with(Role.FIRM_IT, site=world.branch_a)
    onsite_user = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    totp = enrol_totp(onsite_user)
    entry = put(firm_user, world, world.branch_a)
    firm, onsite = logged_in(firm_user), logged_in(onsite_user)
    code = world.engagement.code
    firm.post(
        reverse("vault:reveal_request", kwargs={"code": code, "entry_id": entry.pk}),
        {"purpose": "view", "reason": "核对"},
    )
    request = RevealRequest.objects.get()
    listing = onsite.get(reverse("vault:request_list", kwargs={"code": code}))
    assert b'data-testid="approve-link"' in listing.content
    onsite.post(
        reverse("vault:request_approve", kwargs={"code": code, "request_id": request.pk}),
        {"code": next_code(totp)},
    )
    opening = reverse("vault:reveal_open", kwargs={"code": code, "request_id": request.pk})
    assert STRONG.encode() not in firm.get(opening).content
    shown = firm.post(opening)
    assert STRONG.encode() in shown.content and "no-store" in shown["Cache-Control"]
    again = firm.post(opening, follow=True)
    assert STRONG.encode() not in again.content


def test_the_site_page_lists_overdue_secrets(vault, world):
    firm_user = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm_user, world, world.branch_a, kind="changed")
    SecretEntry.objects.filter(pk=entry.pk).update(next_due_on=timezone.localdate() - timedelta(days=1))
    page = logged_in(firm_user).get(
        reverse("org:site_detail", kwargs={"code": world.engagement.code, "site_id": world.branch_a.pk})
    )
    assert b'data-testid="site-vault"' in page.content and entry.account.login_name.encode() in page.content
    # UX review H1: the block once, in the page's main column; never in the tab title nor the sub-navigation.
    text = page.content.decode()
    assert text.count('data-testid="site-vault"') == 1
    title = text[text.index("<title>") : text.index("</title>")]
    assert "section" not in title and "<" not in title[len("<title>") :]
    assert text.index('data-testid="site-vault"') > text.index("<h1")
    other = logged_in(world.login_with(Role.FIRM_FINANCE, site=world.branch_a))
    page = other.get(
        reverse("org:site_detail", kwargs={"code": world.engagement.code, "site_id": world.branch_a.pk})
    )
    assert b'data-testid="site-vault"' not in page.content


def test_capture_picks_a_system_of_the_site_and_creates_one_only_on_purpose(vault, world):
    """UX review L5: a typo in the system's name is refused, naming the site; a new one needs the box."""
    from handover.registers.models import InformationSystem

    firm = logged_in(world.login_with(Role.FIRM_IT, site=world.branch_a))
    url = reverse("vault:entry_capture", kwargs={"code": world.engagement.code})
    page = firm.get(url).content.decode()
    assert 'list="vault-systems"' in page and 'type="checkbox" name="holders"' in page
    assert 'data-field="envelope_no" data-shown-if="custody_mode=密封信封入保险柜"' in page
    assert 'data-field="platform" data-shown-if="generate=on"' in page
    data = {
        "site": world.branch_a.pk,
        "system": "柜台系统",
        "login_name": "root",
        "layer": "操作系统",
        "account_class": "超级用户",
        "kind": "changed",
        "custody_mode": "密码保管系统",
        "platform": "generic",
        "length": 20,
        "secret": STRONG,
        "secret_again": STRONG,
    }
    refused = firm.post(url, data).content.decode()
    assert world.branch_a.name in refused and "柜台系统" in refused and not SecretEntry.objects.exists()
    assert not InformationSystem.objects.filter(name="柜台系统").exists()
    assert firm.post(url, {**data, "new_system": "on"}).status_code == 302
    assert InformationSystem.objects.filter(name="柜台系统", site=world.branch_a).count() == 1
    again = firm.post(url, {**data, "login_name": "oracle"})  # now a system of the site: picked, no box
    assert again.status_code == 302 and SecretEntry.objects.count() == 2
