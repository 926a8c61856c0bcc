"""The per-site completeness page on the demo engagement, in a real browser: the branch's on-site post sees
its own branch complete and nothing of 总部; the technical group sees what 总部 and 南京营业部 still miss."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PAGE = "/e/demo/registers/completeness/"
LogIn = Callable[[Page, str], None]


def test_the_branch_sees_its_own_sites_only(page: Page, log_in: LogIn) -> None:
    log_in(page, "demo-onsite-hz")
    page.goto(PAGE)
    table = page.get_by_test_id("completeness")
    expect(table.locator('tr[data-site="BR-HZ"]')).to_be_visible()
    expect(table.locator('tr[data-site="HQ"]')).to_have_count(0)
    expect(page.get_by_test_id("missing-BR-HZ")).to_have_count(0)


def test_the_technical_group_sees_what_is_missing_and_where(page: Page, log_in: LogIn) -> None:
    log_in(page, "demo-tech")
    page.goto(PAGE)
    hq = page.get_by_test_id("missing-HQ")
    expect(hq).to_contain_text("表8：交接日系统备份登记表")
    expect(hq).to_contain_text("清算系统")
    expect(page.get_by_test_id("missing-BR-NJ")).to_contain_text("表5：人员基本情况登记表")


def test_an_observer_is_refused(page: Page, log_in: LogIn) -> None:
    log_in(page, "demo-observer")
    response = page.goto(PAGE)
    assert response is not None and response.status == 403
