"""The workflow in a real browser on the demo engagement (mid-handover): 技术组's overview shows 杭州营业部
done and the other sites late, with the open E05; 杭州营业部's on-site post reports a late step of its 服务部
the same day, and the page shows it reported."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

LogIn = Callable[[Page, str], None]
OVERVIEW = "/w/demo/"


def test_the_overview_shows_who_is_done_who_is_late_and_the_open_exception(page: Page, log_in: LogIn) -> None:
    log_in(page, "demo-tech")
    page.goto("/e/demo/")
    page.get_by_test_id("nav-workflow").click()
    expect(page).to_have_url(f"{page.url.split('/w/')[0]}{OVERVIEW}")
    heatmap = page.get_by_test_id("heatmap")
    expect(heatmap).to_be_visible()
    hangzhou = heatmap.locator('tr[data-testid="site-BR-HZ"]')
    expect(hangzhou.locator("a.s-overdue")).to_have_count(0)
    expect(hangzhou.locator("a.s-done, a.s-done_late").first).to_be_visible()
    expect(heatmap.locator('tr[data-testid="site-BR-NJ"] a.s-overdue').first).to_be_visible()
    expect(page.get_by_test_id("open-cases")).to_contain_text("E05")
    expect(page.get_by_test_id("chart-trend")).to_be_visible()
    expect(page.get_by_test_id("overdue")).to_be_visible()


def test_a_branch_post_reports_a_late_step_of_its_service_point(page: Page, log_in: LogIn) -> None:
    log_in(page, "demo-onsite-hz")
    page.goto(OVERVIEW)
    heatmap = page.get_by_test_id("heatmap")
    expect(heatmap.locator('tr[data-testid="site-BR-NJ"]')).to_have_count(0)  # not this post's site
    heatmap.locator('tr[data-testid="site-SP-HZ1"] th a').click()
    expect(page.get_by_test_id("row-T-01")).to_contain_text("T-01")
    page.get_by_test_id("feedback-T-02").click()
    tomorrow = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=1)
    page.fill("textarea[name=reason]", "原超级用户密码持有人联系不上，已上报托管工作组")
    page.fill("input[name=expected_at]", f"{tomorrow.isoformat()}T10:00")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("site-steps")).to_be_visible()
    expect(page.get_by_test_id("feedback-T-02")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("原超级用户密码持有人联系不上")
