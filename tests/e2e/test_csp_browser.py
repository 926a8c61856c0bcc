"""Review L2 in the browser: the main pages, as each kind of role, load under the Content-Security-Policy
without one violation in the console (htmx, the app's script and Swagger UI included)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

LogIn = Callable[[Page, str], None]
PAGES = {
    "demo-tech": [
        "/e/",
        "/e/demo/",
        "/e/demo/people/",
        "/e/demo/organisations/",
        "/e/demo/registers/",
        "/e/demo/registers/8/",
        "/e/demo/vault/",
        "/w/demo/",
        "/api/docs/",
    ],
    "demo-onsite-hz": ["/e/demo/", "/e/demo/registers/", "/w/demo/", "/vault/"],
    "demo-observer": ["/e/", "/e/demo/"],
    "demo-auditor": ["/audit/"],
    "demo-sysadmin": ["/accounts/manage/"],
}


def _violations(messages: list[ConsoleMessage]) -> list[str]:
    return [
        m.text
        for m in messages
        if "Content Security Policy" in m.text
        or "Content-Security-Policy" in m.text
        or "Refused to" in m.text
    ]


def test_the_login_page_loads_without_a_policy_violation(page: Page, server: Server) -> None:
    messages: list[ConsoleMessage] = []
    page.on("console", lambda message: messages.append(message))
    response = page.goto("/accounts/login/")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("load")
    assert _violations(messages) == []


@pytest.mark.parametrize("username", sorted(PAGES))
def test_main_pages_load_without_a_policy_violation(
    page: Page, log_in: LogIn, server: Server, username: str
) -> None:
    log_in(page, username)
    messages: list[ConsoleMessage] = []
    page.on("console", lambda message: messages.append(message))
    seen = {}
    for path in PAGES[username]:
        response = page.goto(path)
        assert response is not None and response.ok, path
        page.wait_for_load_state("load")
        if path == "/api/docs/":  # Swagger UI's start-up script (a file) ran: the operations are listed
            expect(page.locator(".opblock").first).to_be_visible()
        seen[path] = _violations(messages)
        messages.clear()
    assert {path: found for path, found in seen.items() if found} == {}


def test_an_injected_inline_script_is_refused(page: Page, log_in: LogIn) -> None:
    """The policy is enforced, not only sent: an inline script added to a page does not run."""
    log_in(page, "demo-tech")
    messages: list[ConsoleMessage] = []
    page.on("console", lambda message: messages.append(message))
    page.goto("/e/demo/")
    page.evaluate(
        """() => { const s = document.createElement('script'); s.textContent = 'window.__ran = true';
                   document.body.appendChild(s); }"""
    )
    assert page.evaluate("() => window.__ran === true") is False
    assert _violations(messages) != []
