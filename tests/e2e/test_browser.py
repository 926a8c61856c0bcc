"""The issue's browser scenarios on the demo engagement: Chinese login and dashboard, the language switch,
adding a branch, a refused level, and an on-site post kept out of another branch.

Chinese UI text is asserted only where it comes from the data (site names, the engagement's code name); the
language itself through ``<html lang>``. The one check on translated UI text is marked TRANSLATION CHECK.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

CODE_NAME = "远山项目（演示）"
DASHBOARD = "/e/demo/"
SCREENSHOT = Path("/tmp/e2e-dashboard.png")
ZH_CATALOGUE = Path(__file__).resolve().parents[2] / "src/handover/locale/zh_Hans/LC_MESSAGES/django.mo"

LogIn = Callable[[Page, str], None]


def tree_site(code: str) -> str:
    """The CSS selector of a site's entry in the dashboard tree."""
    return f'ul.tree li[data-site="{code}"]'


def site_id(page: Page, code: str) -> int:
    """The id of a site, read from its link in the dashboard tree (the page must be the dashboard)."""
    href = page.locator(f"{tree_site(code)} > a").get_attribute("href") or ""
    found = re.fullmatch(r"/e/demo/sites/(\d+)/", href)
    assert found, f"no site link for {code}: {href!r}"
    return int(found.group(1))


def test_log_in_with_the_chinese_ui_and_see_the_dashboard(page: Page, log_in: LogIn, server: Server) -> None:
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    log_in(page, "demo-tech")
    # UX review M4 and L8: one engagement, so 技术组 lands on its state (the workflow), not on a list of one.
    expect(page).to_have_url(f"{server.base_url}/w/demo/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.locator(".subnav").get_by_role("link", name="概览").click()

    expect(page).to_have_url(f"{server.base_url}{DASHBOARD}")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("h1")).to_have_text(CODE_NAME)
    expect(page.get_by_test_id("level-counts")).to_be_visible()
    # The tree nests 总部 → 区域中心 → 营业部 → 服务部.
    hq = page.locator('ul.tree > li[data-site="HQ"]')
    expect(hq).to_contain_text("总部（上海）")
    east = hq.locator(':scope > ul.tree > li[data-site="RC-E"]')
    expect(east.locator(":scope > a")).to_have_text("华东区域中心")
    hangzhou = east.locator(':scope > ul.tree > li[data-site="BR-HZ"]')
    expect(hangzhou.locator(":scope > a")).to_have_text("杭州营业部")
    expect(hangzhou.locator(':scope > ul.tree > li[data-site="SP-HZ1"] > a')).to_have_text("杭州西湖服务部")
    expect(
        hq.locator(':scope > ul.tree > li[data-site="RC-S"] > ul.tree > li[data-site="BR-GZ"] > a')
    ).to_have_text("广州营业部")
    expect(hq.locator(':scope > ul.tree > li[data-site="BR-SH2"] > a')).to_have_text("上海徐汇营业部")
    # The page is styled: its stylesheet and script are served.
    assets = page.eval_on_selector_all(
        "link[rel=stylesheet], script[src]", "els => els.map(e => e.href || e.src)"
    )
    assert any(a.endswith(".css") for a in assets), assets
    for asset in assets:
        assert page.request.get(asset).ok, asset
    expect(page.locator("header.top")).to_have_css("display", "flex")
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_switch_to_english(page: Page, log_in: LogIn, server: Server) -> None:
    log_in(page, "demo-tech")
    page.goto(DASHBOARD)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    page.get_by_test_id("lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(f"{server.base_url}{DASHBOARD}")
    expect(page.get_by_role("heading", name="Site tree")).to_be_visible()
    expect(page.get_by_test_id("add-site")).to_have_text("Add a site")
    expect(page.get_by_test_id("lang-switch")).to_have_text("中文")
    # Data stays as entered.
    expect(page.locator("h1")).to_have_text(CODE_NAME)
    expect(page.locator(f"{tree_site('BR-HZ')} > a")).to_have_text("杭州营业部")

    # The choice sticks across pages, and switches back.
    page.goto("/e/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Engagements")).to_be_visible()
    page.get_by_test_id("lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_test_id("lang-switch")).to_have_text("English")


def test_chinese_first_and_the_login_button_follows_the_language(
    new_context: Callable[..., BrowserContext],
) -> None:
    # Chinese first (DESIGN.md decision 8): a browser asking for English still gets zh-hans until the switch.
    page = new_context(locale="en-US").new_page()
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    chinese_label = page.get_by_test_id("login").inner_text().strip()
    page.get_by_test_id("lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("login")).to_have_text("Log in")
    # TRANSLATION CHECK: needs the compiled Chinese catalogue (`make messages`); checked once it exists.
    if not ZH_CATALOGUE.exists():
        pytest.skip(f"TRANSLATION CHECK pending: {ZH_CATALOGUE} is not compiled yet")
    assert chinese_label == "登录"


def test_technical_group_adds_a_branch_under_the_south_china_centre(
    page: Page, log_in: LogIn, server: Server
) -> None:
    code, name = "BR-DG", "东莞营业部（E2E）"
    log_in(page, "demo-tech")
    page.goto(DASHBOARD)
    south = site_id(page, "RC-S")
    expect(page.locator(tree_site(code))).to_have_count(0)

    page.get_by_test_id("add-site").click()
    expect(page).to_have_url(f"{server.base_url}/e/demo/sites/new/")
    page.fill("input[name=code]", code)
    page.fill("input[name=name]", name)
    page.select_option("select[name=level]", "branch")
    page.select_option("select[name=parent]", str(south))
    page.get_by_test_id("save").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(server.base_url)}/e/demo/sites/\d+/$"))
    expect(page.locator("h1")).to_contain_text(name)
    expect(page.locator("main")).to_contain_text("华南区域中心")

    page.goto(DASHBOARD)
    added = page.locator(f'ul.tree li[data-site="RC-S"] > ul.tree > li[data-site="{code}"]')
    expect(added).to_have_count(1)
    expect(added.locator(":scope > a")).to_have_text(name)
    expect(page.locator(tree_site(code))).to_have_count(1)


def test_a_service_point_directly_under_a_regional_centre_is_refused(
    page: Page, log_in: LogIn, server: Server
) -> None:
    code, name = "SP-BAD", "错放服务部（E2E）"
    log_in(page, "demo-tech")
    page.goto(DASHBOARD)
    east = site_id(page, "RC-E")

    page.goto("/e/demo/sites/new/")
    page.fill("input[name=code]", code)
    page.fill("input[name=name]", name)
    page.select_option("select[name=level]", "service")
    page.select_option("select[name=parent]", str(east))
    page.get_by_test_id("save").click()

    # The form comes back with the error on the parent field, keeping what was typed.
    expect(page).to_have_url(f"{server.base_url}/e/demo/sites/new/")
    parent = page.locator("select[name=parent]")
    expect(parent).to_have_attribute("aria-invalid", "true")
    expect(parent).to_have_attribute("aria-describedby", "id_parent_error")
    parent_error = page.locator("ul.errorlist#id_parent_error")
    expect(parent_error).to_be_visible()
    expect(parent_error).not_to_be_empty()
    expect(page.locator("select[name=level]")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name=name]")).to_have_value(name)
    expect(parent).to_have_value(str(east))

    page.goto(DASHBOARD)
    expect(page.locator(tree_site("RC-E"))).to_be_visible()
    expect(page.locator(tree_site(code))).to_have_count(0)
    expect(page.locator("ul.tree").first).not_to_contain_text(name)


def test_an_onsite_post_cannot_open_another_branch(
    new_context: Callable[..., BrowserContext], log_in: LogIn
) -> None:
    tech = new_context().new_page()
    log_in(tech, "demo-tech")
    tech.goto(DASHBOARD)
    guangzhou, hangzhou = site_id(tech, "BR-GZ"), site_id(tech, "BR-HZ")

    onsite = new_context().new_page()
    log_in(onsite, "demo-onsite-hz")
    # Their own branch opens...
    response = onsite.goto(f"/e/demo/sites/{hangzhou}/")
    assert response is not None and response.status == 200
    expect(onsite.locator("h1")).to_contain_text("杭州营业部")

    # ...another branch does not, and its name is not given away.
    response = onsite.goto(f"/e/demo/sites/{guangzhou}/")
    assert response is not None and response.status in (403, 404)
    expect(onsite.get_by_test_id("error")).to_be_visible()
    expect(onsite.locator("html")).to_have_attribute("lang", "zh-hans")
    assert "广州营业部" not in onsite.content()
