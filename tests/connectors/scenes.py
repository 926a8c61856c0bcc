"""A discovery target of one engagement with its credential in an unsealed vault, gathered once (so that its 表8
backup is drafted), and gathering it again: shared by the rotation and restore tests of every platform."""

from __future__ import annotations

from typing import Any

from handover.core.actors import system
from handover.discovery import services as discovery
from handover.org.models import Role
from handover.registers.models import InformationSystem
from handover.vault import lifecycle
from handover.vault import services as vault


def target_scene(  # type: ignore[no-untyped-def]
    world, settings, tmp_path, *, connector: str, name: str, host: str, port: int, login: str, secret: str,
    options: dict[str, str] | None = None, layer: str = "操作系统",
) -> tuple[Any, Any]:  # fmt: skip
    """(a 技术组 login, the target): system ``name``, host ``host`` at ``options['address']`` (127.0.0.1)."""
    settings.DATA_DIR = tmp_path / "data"
    lifecycle.vault_init(actor=system("test"), shares=5, threshold=3)
    tech = world.login_with(Role.TECH_GROUP)
    info = InformationSystem.objects.create(engagement=world.engagement, site=world.branch_a, name=name)
    admin = vault.secret_put(
        actor=system("test"),
        target=vault.Target(engagement=world.engagement, site=world.branch_a, system_name=name, hostname=host,
                            login_name=login, layer=layer),
        secret=secret,
    )  # fmt: skip
    options = dict(options or {})
    address = options.pop("address", "127.0.0.1")
    target = discovery.target_save(actor=tech, system=info, hostname=host, connector=connector, address=address,
                                   port=port, credential=admin, options=options)  # fmt: skip
    gather_again(world, tech)
    return tech, target


def gather_again(world, tech) -> None:  # type: ignore[no-untyped-def]
    """One more gathering of every target of the engagement, each of them ok."""
    run = discovery.run_start(actor=tech, engagement=world.engagement, enqueue=False)
    counts = discovery.run_execute(run_id=run.pk).counts
    assert counts["ok"] == run.outcomes.count(), list(run.outcomes.values("reason_en"))
