"""The workflow in a real browser on the demo engagement (mid-handover): 技术组's overview shows 杭州营业部
done and the other sites late, with the open E05; 杭州营业部's on-site post reports a late step of its 服务部
the same day, and the page shows it reported."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, demo_server

pytestmark = pytest.mark.e2e

LogIn = Callable[[Page, str], None]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A demo of its own: other browser tests add forms at 杭州营业部 (a 表8 row, a fixity bundle), which
    rightly turns its steps back to in progress on a shared server."""
    with demo_server() as running:
        yield running


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


def test_a_branch_post_raises_e05_from_a_backup_row_and_cannot_close_it_without_table39(
    page: Page, log_in: LogIn
) -> None:
    log_in(page, "demo-onsite-hz")
    page.goto(OVERVIEW)
    page.get_by_test_id("heatmap").locator('tr[data-testid="site-BR-HZ"] a[title^="T-04 "]').click()
    expect(page.get_by_test_id("rows-14").first).to_be_visible()  # 杭州营业部 has two 表14 forms
    page.get_by_test_id("rows-14").first.get_by_test_id("start-E05").first.click()
    expect(page.locator("select[name=path_id]")).to_have_value("E05")
    page.fill("textarea[name=description]", "柜台系统自带备份功能执行失败")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("case-state")).to_be_visible()
    expect(page.get_by_test_id("close-refusal")).to_be_visible()  # the prescribed steps come first
    page.select_option("select[name=key]", "vendor_support")
    page.fill("input[name=record]", "恒信金融软件有限公司")
    page.get_by_test_id("tick").click()
    expect(page.get_by_test_id("checklist")).to_contain_text("恒信金融软件有限公司")
    # Still no 表39 entry of type E05 at the branch: the case cannot close, and the page says why.
    expect(page.get_by_test_id("close-refusal")).to_contain_text("表39")
    expect(page.get_by_test_id("close")).to_have_count(0)
