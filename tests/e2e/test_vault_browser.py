"""The vault in a real browser, on a server of its own (so the second factor set up here does not change the
demo logins the other browser tests use): the technical group unseals with three of the demo shares; the
firm's IT at 杭州营业部 (被托管技术方) captures an original password for a host there and asks to see it;
the branch's 现场技术岗位 approves with a TOTP code; the requester sees it once and then cannot again."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    HANDOVER,
    Server,
    _free_port,
    _handover,
    _wait_for_port,
    migrated_data_dir,
    parse_demo_logins,
)

pytestmark = pytest.mark.e2e

SECRET = "Hz!Counter#2026-Root9"
HOST = "hz-counter09"


@pytest.fixture(scope="module")
def vault_server() -> Iterator[tuple[Server, list[str]]]:
    data_dir, env = migrated_data_dir("hv-e2e-")
    demo = _handover(env, "demo")
    shares = re.findall(r"share \d: (HOV1-\S+)", demo)
    assert len(shares) == 5, demo
    port = _free_port()
    log = data_dir / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(HANDOVER), "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        _wait_for_port(process, port, log)
        server = Server(
            base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, passwords=parse_demo_logins(demo)
        )
        yield server, shares
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def _page(browser: Browser, server: Server) -> Page:
    context = browser.new_context(base_url=server.base_url, locale="zh-CN", timezone_id="Asia/Shanghai")
    return context.new_page()


def _password(page: Page, server: Server, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", server.passwords[username])
    page.get_by_test_id("login").click()
    expect(page).to_have_url(f"{server.base_url}/accounts/second-factor/")


def _log_in_without_totp(page: Page, server: Server, username: str) -> None:
    _password(page, server, username)
    page.get_by_test_id("skip-totp").click()
    expect(page.get_by_test_id("who")).to_be_visible()


def _log_in_enrolling_totp(page: Page, server: Server, username: str) -> pyotp.TOTP:
    _password(page, server, username)
    totp = pyotp.TOTP(page.get_by_test_id("totp-secret").inner_text().strip())
    page.fill("input[name=code]", totp.now())
    page.get_by_test_id("enrol").click()
    expect(page.get_by_test_id("who")).to_be_visible()
    return totp


def _unseal(page: Page, shares: list[str]) -> None:
    page.goto("/vault/")
    expect(page.get_by_test_id("vault-sealed")).to_be_visible()
    for share in shares[1:4]:
        page.fill("input[name=share]", share)
        page.get_by_test_id("enter-share").click()
    expect(page.get_by_test_id("vault-unsealed")).to_be_visible()


def _capture(page: Page) -> None:
    page.goto("/e/demo/vault/")
    page.get_by_test_id("capture").click()
    branch = page.locator("select[name=site] option", has_text="杭州营业部").first.get_attribute("value")
    page.select_option("select[name=site]", branch)
    page.fill("input[name=system]", "营业部柜台系统")
    page.fill("input[name=hostname]", HOST)
    page.fill("input[name=login_name]", "administrator")
    page.select_option("select[name=layer]", "操作系统")
    page.select_option("select[name=account_class]", "超级用户")
    page.select_option("select[name=kind]", "original")
    page.fill("input[name=secret]", SECRET)
    page.fill("input[name=secret_again]", SECRET)
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("vault-ref")).to_be_visible()
    assert SECRET not in page.content()


def test_capture_request_approve_with_totp_see_once(vault_server, browser: Browser) -> None:
    server, shares = vault_server
    tech = _page(browser, server)
    _log_in_without_totp(tech, server, "demo-tech")
    _unseal(tech, shares)

    firm = _page(browser, server)
    _log_in_without_totp(firm, server, "demo-firm-it")
    _capture(firm)
    firm.fill("textarea[name=reason]", "交接日核对原密码")
    firm.get_by_test_id("request-reveal").click()
    expect(firm.get_by_test_id("requests")).to_contain_text("administrator")
    expect(firm.get_by_test_id("open-reveal")).to_have_count(0)

    onsite = _page(browser, server)
    totp = _log_in_enrolling_totp(onsite, server, "demo-onsite-hz")
    onsite.goto("/e/demo/vault/requests/")
    onsite.get_by_test_id("approve-link").first.click()
    # The code of the next 30-second step: the enrolment's code may not be used twice.
    onsite.fill("input[name=code]", totp.at(time.time() + totp.interval))
    onsite.get_by_test_id("approve").click()
    expect(onsite.locator("ul.messages li.success")).to_be_visible()
    expect(onsite.get_by_test_id("approve-link")).to_have_count(0)

    firm.goto("/e/demo/vault/requests/")
    firm.get_by_test_id("open-reveal").click()
    open_url = firm.url
    firm.get_by_test_id("reveal-now").click()
    expect(firm.get_by_test_id("secret-value")).to_have_text(SECRET)
    # UX review L5: the seconds left count down; the copy button copies, and the clipboard is overwritten
    # when the secret leaves the page.
    countdown = firm.get_by_test_id("countdown")
    expect(countdown).not_to_have_text(countdown.inner_text())
    firm.context.grant_permissions(["clipboard-read", "clipboard-write"])
    firm.get_by_test_id("copy-secret").click()
    expect(firm.get_by_test_id("copied")).to_be_visible()
    assert firm.evaluate("navigator.clipboard.readText()") == SECRET
    firm.evaluate("window.dispatchEvent(new Event('pagehide'))")
    firm.wait_for_function("navigator.clipboard.readText().then(text => text.trim() === '')")

    firm.goto(open_url)
    expect(firm.get_by_test_id("reveal-now")).to_have_count(0)
    assert SECRET not in firm.content()
    token = next(c["value"] for c in firm.context.cookies() if c["name"] == "csrftoken")
    again = firm.request.post(open_url, form={"csrfmiddlewaretoken": token}, headers={"Referer": open_url})
    assert again.ok and SECRET not in again.text()
    firm.goto("/e/demo/vault/requests/")
    expect(firm.get_by_test_id("open-reveal")).to_have_count(0)
