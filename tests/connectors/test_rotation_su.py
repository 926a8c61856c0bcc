"""A rotation on a host whose sshd forbids opsuser a password login: the ladder's login rung is the local one
(su at its prompt), recorded as such on the account's step; opsuser's change is 成功, not 未验证."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handover.org.models import Role
from handover.rotation import services as rotation
from handover.rotation.models import RotationItem
from handover.vault.models import VerifyResult
from tests.connectors.etc_host import Host, etc_host


@pytest.fixture
def etc_linux() -> Iterator[Host]:
    """linux_scene's host, with opsuser's direct password login forbidden by a Match block."""
    with etc_host(sudo_ops=True, sshd_extra="Match User opsuser\n  PasswordAuthentication no\n") as found:
        yield found


def test_a_forbidden_direct_login_is_verified_locally_and_said_so(linux_scene) -> None:
    from django.utils import translation

    world, tech, _target = linux_scene
    with translation.override("en"):  # the reasons are recorded in the language of the run
        plan = rotation.plan_create(actor=tech, engagement=world.engagement)
        rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
        rotation.plan_run(plan_id=plan.pk)
    items = {i.login_name: i for i in RotationItem.objects.filter(plan=plan)}
    ops, root = items["opsuser"], items["root"]
    assert (ops.outcome, root.outcome) == (VerifyResult.SUCCESS, VerifyResult.SUCCESS), (
        ops.reason,
        root.reason,
    )
    assert ops.reason.startswith("Verified by a local login (su)"), ops.reason
    assert "(su)" not in root.reason  # root logs in over SSH: the network rung
    assert ops.row is not None and ops.row.data["login_verified"] == "成功"
