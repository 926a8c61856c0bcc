"""第二十条第3项, 第十一条 (trace C25): 表1–4, the firm's 摸底 returns passed on by the 证监局 in 准备期, are recorded
and signed by 技术组 as their receiver; no 现场技术岗位 exists yet, and no firm login is needed to file them."""

from __future__ import annotations

from datetime import date

import pytest

from handover.core.errors import DomainError
from handover.demo.workflow import sample_row
from handover.org.models import Role
from handover.registers import services
from handover.registers.io.frame import footer_labels
from handover.registers.models import FormState

pytestmark = pytest.mark.django_db


def test_the_footer_of_the_preparation_returns_is_the_technical_group_as_receiver():
    for number in (1, 2, 3, 4):
        assert services.footer_roles(number) == (Role.TECH_GROUP,)
        assert footer_labels(number) == [(Role.TECH_GROUP, "技术组接收")]


def test_the_technical_group_records_and_signs_a_return_alone(world):
    from handover.org.models import Organisation
    from handover.registers.models import InformationSystem

    tech = world.login_with(Role.TECH_GROUP, username="tech")
    onsite = world.login_with(Role.ONSITE_POST, site=world.hq, username="onsite_hq")
    system = InformationSystem.objects.create(engagement=world.engagement, site=world.hq, name="集中交易系统")
    vendor = Organisation.objects.filter(engagement=world.engagement).first()
    day = date(2026, 11, 20)
    form = services.form_create(actor=tech, engagement=world.engagement, site=world.hq, register_no=2,
                                form_date=day, header={"report_period": "2026Q3", "report_cycle": "季报"})  # fmt: skip
    data = sample_row(2, day, system_id=system.pk, vendor_org_id=vendor.pk)
    services.row_add(actor=tech, form=form, data=data)
    services.form_submit(actor=tech, form=form)
    with pytest.raises(DomainError):  # the footer has no 现场技术岗位 line
        services.form_sign(actor=onsite, form=form)
    services.form_sign(actor=tech, form=form)
    form.refresh_from_db()
    assert form.state == FormState.SIGNED
