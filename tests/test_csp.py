"""Review L2: a Content-Security-Policy on every response, and pages that need no inline script to work."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

import handover
from tests.demo_db import DEMO_USERS, _demo_for_module, demo  # noqa: F401 - fixtures

POLICY = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
}
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)
# The crawl fetches one page per URL shape (ids become N), downloads included (for the header), except the
# language switch (a POST) and the PDF exports.
MAX_PAGES_PER_ROLE = 120


class _Page(HTMLParser):
    """Links to follow, and everything the policy would refuse: inline <script>, on…= handlers,
    javascript: URLs, <style> elements and style= attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        if tag == "script" and not values.get("src"):
            self.inline.append("<script> without src")
        if tag == "style":
            self.inline.append("<style>")
        for name, value in attrs:
            if name.startswith("on"):
                self.inline.append(f"{tag} {name}=")
            if name == "style":
                self.inline.append(f"{tag} style=")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.inline.append(f"{tag} {name}=javascript:")


def _shape(path: str) -> str:
    return re.sub(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27})(?=/|$)", "/N", path)


def _crawl(client: Client) -> dict[str, list[str]]:
    """Every page reachable by links from the home page, one per URL shape: its problems by URL."""
    problems: dict[str, list[str]] = {}
    queue, seen = ["/"], set()
    visited = 0
    while queue and visited < MAX_PAGES_PER_ROLE:
        url = queue.pop(0)
        shape = _shape(urlsplit(url).path)
        if shape in seen:
            continue
        seen.add(shape)
        response = client.get(url)
        visited += 1
        header = response.get("Content-Security-Policy", "")
        found = [] if {p.strip() for p in header.split(";")} >= POLICY else [f"policy: {header!r}"]
        links: list[str] = []
        if response.status_code in (301, 302, 303, 307, 308):
            links = [response["Location"]]
        elif "text/html" in response.get("Content-Type", ""):
            page = _Page()
            page.feed(response.content.decode())
            found += page.inline
            links = page.links
        for href in links:
            parts = urlsplit(urljoin(url, href))
            if parts.scheme or parts.netloc or parts.path.startswith(("/i18n/", "/static/")):
                continue
            if parts.path.endswith("/pdf/"):  # seconds of WeasyPrint each; the CSV and XLSX ones are fetched
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        if found:
            problems[url] = found
    return problems


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize("username", DEMO_USERS)
def test_every_demo_page_a_role_reaches_carries_the_policy_and_no_inline_script(username):
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    assert _crawl(client) == {}


def test_the_login_page_and_the_api_carry_the_policy(db):
    client = Client()
    for url in ("/accounts/login/", "/api/", "/api/schema/", "/no-such-page/"):
        header = client.get(url).get("Content-Security-Policy", "")
        assert {p.strip() for p in header.split(";")} >= POLICY, url


def test_the_policy_is_the_same_in_every_settings_module():
    from handover.settings import base

    assert "handover.web.csp.ContentSecurityPolicyMiddleware" in settings.MIDDLEWARE
    assert "handover.web.csp.ContentSecurityPolicyMiddleware" in base.MIDDLEWARE
    sent = {p.strip() for p in base.HANDOVER_CONTENT_SECURITY_POLICY.split(";")}
    assert sent == POLICY | {"img-src 'self' data:"}


def test_no_template_has_an_inline_script_handler_or_javascript_url():
    """The pages the crawl cannot reach (a revealed secret, the printed envelope) are covered here."""
    root = Path(handover.__file__).parent
    found = []
    for template in root.glob("**/templates/**/*.html"):
        text = template.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, JS_URL):
            found += [f"{template.relative_to(root)}: {m.group(0)}" for m in pattern.finditer(text)]
    assert found == []
