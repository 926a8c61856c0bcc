"""The header's unread badge in a real browser (issue 17, UX review M3): 技术组 is told of an escalation
without subscribing, sees the count in the header on every page, opens the inbox from it, and reading
clears it. The screenshot of the header is kept in the run's artefacts folder (conftest ``artefacts``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, shell_scene

pytestmark = pytest.mark.e2e

TITLE = "E2E：3 个逾期步骤未当日反馈"
# An escalation as the midnight task raises it: through notify, to the topic's default audience (技术组).
SCENE = f"""
from handover.notifications.services import notify
from handover.org.models import Engagement
from handover.workflow import topics
made = notify(
    engagement=Engagement.objects.get(code="demo"), topic=topics.ESCALATION, title="{TITLE}",
    body="杭州营业部 T-01", link="/w/demo/",
)
print("SCENE", sorted(n.person.user.username for n in made if n.person.user))
"""


def test_the_header_counts_unread_notifications_and_reading_clears_it(
    page: Page, log_in: Callable[[Page, str], None], server: Server, artefacts: Path
) -> None:
    told = shell_scene(server, SCENE, "SCENE", "the escalation")
    assert "demo-tech" in told and "demo-onsite-hz" not in told, told

    log_in(page, "demo-tech")
    page.goto("/e/demo/")
    badge = page.get_by_test_id("unread-badge")
    count = page.get_by_test_id("unread-count")
    expect(count).to_be_visible()
    assert int(count.inner_text()) >= 1
    page.locator("header.top").screenshot(path=str(artefacts / "notifications-badge.png"))

    badge.click()
    expect(page).to_have_url(f"{server.base_url}/n/demo/")
    expect(page.get_by_test_id("inbox")).to_contain_text(TITLE)
    page.get_by_test_id("mark-read").click()
    expect(page).to_have_url(f"{server.base_url}/n/demo/")
    expect(page.get_by_test_id("unread-badge")).to_be_visible()
    expect(page.get_by_test_id("unread-count")).to_have_count(0)


def test_an_on_site_post_is_not_told_of_what_is_not_theirs(
    page: Page, log_in: Callable[[Page, str], None]
) -> None:
    log_in(page, "demo-onsite-hz")
    page.goto("/n/demo/")
    expect(page.get_by_test_id("inbox")).not_to_contain_text(TITLE)
