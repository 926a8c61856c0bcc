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
