"""Write-ahead rotation in the vault (issue 15): a new secret is sealed as pending before the target changes,
is never the current secret (a task, a reveal) until promoted, can be read only as that pending version, and an
abandoned one never becomes current; one live pending secret per entry."""

from __future__ import annotations

import pytest

from handover.audit.models import Event
from handover.core.actors import system
from handover.core.errors import DomainError, NotFound
from handover.org.models import Role
from handover.vault import events, lifecycle, services
from handover.vault.models import SecretKind, VerifyResult
from tests.vault.helpers import STRONG, put

NEW = "Kq7#vRt2!mWp9@Lz"
LATER = "Hy3$uPo8&nBd5^Xc"


def test_a_pending_secret_is_not_current_until_promoted(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm, world, world.branch_a)
    actor = system("rotation")
    version = services.secret_stage(actor=actor, entry=entry, secret=NEW, reason="定期更换")
    assert version.pending and version.kind == SecretKind.CHANGED
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="t") == STRONG  # still the old one
    assert services.current_version(entry).number == 1
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="t", pending_number=version.number) == NEW
    with pytest.raises(DomainError, match=r"待生效|pending"):
        services.secret_stage(actor=actor, entry=entry, secret=LATER, reason="定期更换")  # one live pending
    entry = services.secret_promote(actor=actor, version=version, verified=VerifyResult.SUCCESS)
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="t") == NEW
    assert entry.verify_result == VerifyResult.SUCCESS and entry.changed_at is not None
    with pytest.raises(NotFound):  # no longer pending: not readable as one
        services.secret_use_for_task(entry_id=entry.pk, purpose="t", pending_number=version.number)
    actions = list(Event.objects.filter(object_id=str(entry.pk)).values_list("action", flat=True))
    assert events.SECRET_STAGE in actions and events.SECRET_PROMOTE in actions
    assert NEW not in str(list(Event.objects.values("before", "after")))


def test_an_abandoned_secret_never_becomes_current(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm, world, world.branch_a)
    actor = system("rotation")
    version = services.secret_stage(actor=actor, entry=entry, secret=NEW, reason="定期更换")
    services.secret_abandon(actor=actor, version=version, why="the host kept the old hash")
    assert services.secret_use_for_task(entry_id=entry.pk, purpose="t") == STRONG
    with pytest.raises(DomainError):
        services.secret_promote(actor=actor, version=version, verified=VerifyResult.SUCCESS)
    again = services.secret_stage(actor=actor, entry=entry, secret=LATER, reason="定期更换")  # a new attempt
    assert again.number == version.number + 1


def test_staging_needs_the_vault_unsealed_and_a_new_kind(vault, world):
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a)
    entry = put(firm, world, world.branch_a)
    with pytest.raises(DomainError):
        services.secret_stage(actor=system("r"), entry=entry, secret=NEW, reason="", kind=SecretKind.ORIGINAL)
    lifecycle.vault_seal(actor=system("test"))
    with pytest.raises(lifecycle.VaultSealed):
        services.secret_stage(actor=system("r"), entry=entry, secret=NEW, reason="定期更换")
    assert entry.versions.count() == 1
