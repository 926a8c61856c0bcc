"""The review's context comes from the registers: who left and when (表5 / the person entity, 第二十五条第3项),
their logins, the accounts 表10 says were changed (第二十六条第2项), and D."""

from __future__ import annotations

import datetime as dt

from handover.core.actors import system
from handover.discovery import reviewing
from handover.org.models import Employment, Organisation, Party, Person
from handover.registers import services as registers
from handover.registers.models import Account, Asset, InformationSystem, Row
from tests.factories import World


def test_the_context_names_people_who_left_their_logins_d_and_what_form10_says_changed(world: World) -> None:
    engagement = world.engagement
    engagement.disposal_date = dt.date(2026, 12, 1)
    engagement.save(update_fields=["disposal_date"])
    org = Organisation.objects.filter(engagement=engagement).first()
    left = Person.objects.create(
        engagement=engagement, name="张三", organisation=org, party=Party.FIRM_IT, employment=Employment.LEFT,
        leave_date=dt.date(2026, 8, 1),
    )  # fmt: skip
    stays = Person.objects.create(engagement=engagement, name="李四", organisation=org, party=Party.FIRM_IT)
    info = InformationSystem.objects.create(engagement=engagement, site=world.branch_a, name="集中交易")
    host = Asset.objects.create(
        engagement=engagement, site=world.branch_a, name="交易主机", hostname="trade01"
    )
    root = Account.objects.create(engagement=engagement, system=info, asset=host, login_name="root")
    Account.objects.create(engagement=engagement, system=info, asset=host, login_name="zhangsan", owner=left)
    ops = Account.objects.create(engagement=engagement, system=info, asset=host, login_name="ops")
    form = registers.form_create(
        actor=system("test"), engagement=engagement, site=world.branch_a, register_no=10,
        form_date=dt.date(2026, 12, 1), partial_header=True,
    )  # fmt: skip
    base = {"system_id": info.pk, "asset_id": host.pk}
    Row.objects.create(form=form, seq=1, data={**base, "account_id": root.pk, "secret_changed": True})
    Row.objects.create(form=form, seq=2, data={**base, "account_id": ops.pk, "secret_changed": False})
    old = Row.objects.create(
        form=form, seq=3, data={**base, "account_id": ops.pk, "secret_changed": True}, is_current=False
    )
    assert old.pk

    context = reviewing.context_for(engagement)
    assert context.disposal_day == dt.date(2026, 12, 1)
    people = {p.name: p for p in context.people}
    assert people["张三"].left_on == dt.date(2026, 8, 1) and people["张三"].usernames == ("zhangsan",)
    assert people["李四"].left_on is None and stays.pk
    assert context.changed_on_form10 == (("集中交易", "trade01", "root"),)  # not the 否, not a superseded row
