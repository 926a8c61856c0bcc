"""The completeness page: the user's sites only, what is missing and where to create it."""

from __future__ import annotations

from django.urls import reverse

from handover.org.models import Role
from handover.registers import inventory
from tests.registers import rows
from tests.registers.rows import branch


def test_the_page_lists_the_missing_rows_of_the_users_sites(client, world):
    b = branch(world)
    inventory.system_ensure(actor=b.tech, engagement=world.engagement, site=world.branch_b, name="乙柜台系统")
    b.add(7, **rows.t7(b))
    client.force_login(b.firm_it)
    response = client.get(reverse("registers:completeness", args=[world.engagement.code]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="missing-BA"' in body and "表14：交接日数据备份登记表" in body and "柜台系统" in body
    assert "乙柜台系统" not in body and "乙营业部" not in body


def test_observers_do_not_see_it(client, world):
    client.force_login(world.login_with(Role.OBSERVER))
    response = client.get(reverse("registers:completeness", args=[world.engagement.code]))
    assert response.status_code == 403


def test_every_key_account_is_listed_by_name_until_received_changed_verified_and_reviewed(client, world):
    """第二十二条, 第二十六条第2、3项: one 表10 row for root does not complete a system whose middleware and
    application administrators were never changed; a change whose login is 未验证 is not done either."""
    b = branch(world)
    weblogic = inventory.account_ensure(
        actor=b.firm_it, system=b.system, asset=b.host, login_name="weblogic", layer="中间件",
        account_class="等效超级用户",
    )  # fmt: skip
    inventory.account_ensure(
        actor=b.firm_it, system=b.system, login_name="admin", layer="应用后台", account_class="后台用户"
    )
    inventory.account_ensure(
        actor=b.firm_it, system=b.system, login_name="teller01", layer="应用系统", account_class="操作员"
    )  # not a key account: no row of its own
    b.add(7, **rows.t7(b))
    backup = b.add(8, **rows.t8(b))
    b.add(9, **rows.t9(b))
    b.add(10, **rows.t10(b, backup, login_verified="未验证", verified_at=None))
    client.force_login(b.firm_it)
    body = client.get(reverse("registers:completeness", args=[world.engagement.code])).content.decode()
    missing = body.split('data-testid="missing-BA"')[1]
    assert "root@gt01" in missing and 'data-testid="login-not-verified"' in missing and "未验证" in missing
    assert "weblogic@gt01" in missing and "柜台系统：admin" in missing and "teller01" not in missing
    receipt = b.add(9, **rows.t9(b, account_id=weblogic.pk, layer="中间件", account_class="等效超级用户"))
    b.add(
        10,
        **rows.t10(b, backup, receipt, account_id=weblogic.pk, layer="中间件", account_class="等效超级用户"),
    )
    body = client.get(reverse("registers:completeness", args=[world.engagement.code])).content.decode()
    missing = body.split('data-testid="missing-BA"')[1]
    assert missing.count("weblogic@gt01") == 1  # only its 表11 review is left
