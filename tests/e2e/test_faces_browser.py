"""Issue 17's browser tests of the faces, on the session's demo server: the first page after login is the state
of the engagement for each role (UX review M4), and a table sorts by a click on its header (L1). Each page is
kept as a screenshot in the run's artefacts folder (conftest ``artefacts``);
the signing confirmation is in test_registers.py, the phone-width walk in test_phone.py and the notifications
badge in test_notifications_browser.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

LogIn = Callable[[Page, str], None]
# Where each role lands and what that page must show of the state, by test id.
FIRST_PAGES = {
    "demo-tech": ("/w/demo/", ("state-overdue", "state-gated", "state-open", "state-progress")),
    "demo-onsite-hz": ("/w/demo/", ("state-overdue", "state-gated", "state-open", "state-progress")),
    "demo-observer": ("/w/demo/summary/", ("as-of",)),
    "demo-auditor": ("/audit/", ("event-count",)),
}


def test_the_first_page_after_login_is_the_state_for_each_role(
    new_context: Callable[..., BrowserContext], log_in: LogIn, server: Server, artefacts: Path
) -> None:
    for username, (landing, shown) in FIRST_PAGES.items():
        page = new_context().new_page()
        log_in(page, username)
        expect(page).to_have_url(f"{server.base_url}{landing}")
        for test_id in shown:
            expect(page.get_by_test_id(test_id)).to_be_visible()
            # Readable: not white on the white card (a class named "state" once painted the text white).
            assert (
                page.get_by_test_id(test_id).evaluate("e => getComputedStyle(e).color")
                != "rgb(255, 255, 255)"
            )
        page.screenshot(path=artefacts / f"first-page-{username}.png", full_page=True)
        page.context.close()


def test_a_branch_post_sees_only_its_sites_state(page: Page, log_in: LogIn) -> None:
    log_in(page, "demo-onsite-hz")
    counts = {}
    for test_id in ("state-overdue", "state-gated"):
        counts[test_id] = int(page.get_by_test_id(test_id).locator("b").inner_text())
    page.get_by_test_id("state-overdue").click()
    expect(page).to_have_url(re.compile(r"#overdue$"))
    sites = set(page.get_by_test_id("overdue").locator("tbody tr td:first-child").all_inner_texts())
    assert sites and all(site.startswith("杭州") for site in sites), sites  # 杭州营业部 and its 服务部
    assert counts["state-overdue"] >= len(sites)


def test_a_register_list_sorts_by_a_column_header(page: Page, log_in: LogIn, artefacts: Path) -> None:
    log_in(page, "demo-tech")
    page.goto("/e/demo/registers/8/")
    table = page.get_by_test_id("rows")
    expect(table).to_have_attribute("data-sortable", "")
    host = table.locator("thead th").nth(3)  # 序号, 表单, 系统, 主机
    cells = table.locator("tbody tr td:nth-child(4)")
    before = cells.all_inner_texts()
    assert len(set(before)) > 1, before
    host.click()
    expect(host).to_have_attribute("aria-sort", "ascending")
    ascending = cells.all_inner_texts()
    expected = page.evaluate(
        "xs => xs.map(x => x.trim()).sort(new Intl.Collator(document.documentElement.lang, {numeric: true}).compare)",
        before,
    )
    assert [x.strip() for x in ascending] == expected
    host.click()
    expect(host).to_have_attribute("aria-sort", "descending")
    assert cells.all_inner_texts() == list(reversed(ascending))
    page.screenshot(path=artefacts / "register-sorted.png", full_page=True)
    # The header stays in view while the rows scroll inside their card.
    assert table.locator("thead th").first.evaluate("th => getComputedStyle(th).position") == "sticky"
