"""A database account's password is used by the system's application servers (issue 15: 「JDBC URLs under paths
the plan declares」): rotating PostgreSQL's dba searches the declared folder on the system's Linux host (its own
target and credential), keeps the files naming dba as host:path, and after the change flags the JDBC file still
holding the old password: 表10 配置文件中使用 未修改 (第二十六条第2项). No password in any event, row or item."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from handover.audit.models import Event
from handover.core.actors import system
from handover.discovery import services as discovery
from handover.org.models import Role
from handover.registers.models import Account, Row
from handover.rotation import services as rotation
from handover.rotation.models import RotationItem
from handover.vault import services as vault
from handover.vault.models import SecretKind, VerifyResult
from tests.connectors.etc_host import ADMIN_PW, Host
from tests.connectors.pg_cluster import Cluster, pg_cluster
from tests.connectors.scenes import target_scene

PG_ADMIN_PW = "Canary-pgadmin-77e1"
DBA_PW = "Old-dba-pw-cfg-52"
FIXTURE = f"CREATE ROLE dba SUPERUSER LOGIN PASSWORD '{DBA_PW}';\n"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    from django.utils import translation

    with translation.override("en"):
        yield


def test_the_systems_application_server_is_searched_for_the_database_accounts_password(
    world, etc_linux: Host, settings, tmp_path
) -> None:
    with pg_cluster(PG_ADMIN_PW, FIXTURE) as cluster:
        _rotate_and_check(world, etc_linux, settings, tmp_path, cluster)


def _rotate_and_check(world, etc_linux: Host, settings, tmp_path, cluster: Cluster) -> None:  # type: ignore[no-untyped-def]
    tech, target = target_scene(world, settings, tmp_path, connector="postgresql", name="清算系统", host="pg01",
                                port=cluster.port, login="gatherer", secret=PG_ADMIN_PW, layer="数据库")  # fmt: skip
    dba = Account.objects.get(login_name="dba", asset=target.asset)
    vault.secret_capture(actor=system("test"), account=dba, secret=DBA_PW, kind=SecretKind.ORIGINAL)
    # The system's application server: a Linux target of the same system, with its own credential.
    root = vault.secret_put(
        actor=system("test"),
        target=vault.Target(engagement=world.engagement, site=target.site, system_name="清算系统",
                            hostname="app01", login_name="root"),
        secret=ADMIN_PW,
    )  # fmt: skip
    discovery.target_save(actor=tech, system=target.system, hostname="app01", connector="linux",
                          address="127.0.0.1", port=etc_linux.port, credential=root)  # fmt: skip
    declared = etc_linux.root / "opt/clearing"
    (declared / "conf").mkdir(parents=True)
    jdbc = declared / "conf/datasource.properties"
    jdbc.write_text(f"url=jdbc:postgresql://pg01:5432/clearing?user=dba&password={quote(DBA_PW, safe='')}\n")
    (declared / "conf/app.yml").write_text("datasource:\n  username: dba\n  password: ${DB_PASSWORD}\n")
    (declared / "conf/other.yml").write_text("datasource:\n  username: reporter\n")

    plan = rotation.plan_create(actor=tech, engagement=world.engagement, config_paths=[str(declared)])
    rotation.plan_approve(actor=world.login_with(Role.TECH_GROUP), plan=plan)
    rotation.plan_run(plan_id=plan.pk)
    item = RotationItem.objects.get(plan=plan, login_name="dba")
    assert item.outcome == VerifyResult.SUCCESS, item.reason
    found = {use["path"]: use for use in item.config_uses}
    assert set(found) == {f"app01:{jdbc}", f"app01:{declared / 'conf/app.yml'}"}
    assert found[f"app01:{jdbc}"]["holds_old"] is True
    assert found[f"app01:{declared / 'conf/app.yml'}"]["holds_old"] is False
    row = Row.objects.get(pk=item.row_id)
    assert row.data["used_in_config"] == "未修改"
    assert f"app01:{jdbc} (config): still holds the old password" in row.data["config_files"]
    own = RotationItem.objects.get(plan=plan, login_name="gatherer")
    assert own.config_uses == []  # nothing on the application server names gatherer
    new = vault.secret_use_for_task(entry_id=dba.vault_entry.pk, purpose="test: the current secret")
    texts = [json.dumps(list(Event.objects.values("before", "after")), ensure_ascii=False, default=str),
             json.dumps(list(Row.objects.values("data", "remarks")), ensure_ascii=False, default=str),
             json.dumps(list(RotationItem.objects.values()), ensure_ascii=False, default=str),
             etc_linux.log.read_text(errors="replace")]  # fmt: skip
    for secret in (DBA_PW, new, ADMIN_PW, PG_ADMIN_PW):
        assert all(secret not in text for text in texts), secret
