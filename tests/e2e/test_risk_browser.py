"""Security management in a real browser on the demo: 被托管技术方 records an incident of a trading system,
sees it graded and its reporting clocks as absolute deadlines, and the navigation leads there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

LogIn = Callable[[Page, str], None]


def test_an_incident_is_graded_and_its_clocks_are_shown(page: Page, log_in: LogIn) -> None:
    log_in(page, "demo-firm-it")
    page.goto("/e/demo/")
    page.get_by_test_id("nav-risk").click()
    expect(page.get_by_test_id("duties")).to_be_visible()
    page.get_by_test_id("nav-incidents").click()
    detected = dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0) - dt.timedelta(
        minutes=5
    )
    page.fill("#id_number", "INC-E2E")
    page.fill("#id_title", "网上交易系统中断")
    page.fill("#id_system_name", "网上交易系统")
    page.fill("#id_system_class", "4")
    page.check("#id_trading_system")
    page.fill("#id_detected_at", detected.strftime("%Y-%m-%d %H:%M"))
    page.fill("#id_down_minutes", "60")
    page.fill("#id_affected_pct", "12")
    page.get_by_test_id("record-incident").click()
    expect(page.get_by_test_id("grade")).to_have_text("重大")
    immediate = (detected + dt.timedelta(minutes=60)).strftime("%Y-%m-%d %H:%M")
    clocks = page.get_by_test_id("clocks")
    expect(clocks.locator("tr", has_text="即时报告")).to_contain_text(immediate)
    expect(clocks.locator("tr", has_text="调查报告")).to_be_visible()
