"""Issue 15's story in a real browser, on the production stack of one server (``handover serve``: the key keeper,
gunicorn and the task worker) and a real sshd whose chpasswd also puts opsuser in the sudo group — a firm's
password tool with a side effect. The 杭州营业部 现场技术岗位 draws up a rotation plan for the branch; 技术组 approves
it (第八条: its author cannot); the run, in the background, changes root and opsuser; opsuser's verification finds
the group it gained and fails, which opens E01 from its 表10 row (第二十八条第1项); the case records the developer's
support; the original comes back only asked by one person, approved by another and applied once; the host
then takes opsuser's original password again. No password on any page, in the host's log or in an argument."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError

from handover.connectors.change import linux as linux_changer
from handover.connectors.manifest import Target
from tests.connectors.etc_host import ADMIN_PW, OLD_PW, Host, etc_host
from tests.e2e.conftest import (
    HANDOVER,
    STARTUP_GUARD_SECONDS,
    Server,
    _free_port,
    _handover,
    _wait_for_port,
    migrated_data_dir,
    parse_demo_logins,
)

pytestmark = pytest.mark.e2e

# Run in ``handover shell`` from its standard input (never an argument): the branch's new system, root's password
# into the vault as the connection's credential, the discovery target, one gathering (the 表8 backup the change
# needs), opsuser's original captured.
SCENE = """
from handover.accounts.models import User
from handover.core.actors import system
from handover.discovery import services as discovery
from handover.org.models import Engagement, Site
from handover.registers.models import Account, InformationSystem
from handover.vault import services as vault
from handover.vault.models import SecretKind

engagement = Engagement.objects.get(code="demo")
site = Site.objects.get(engagement=engagement, code="BR-HZ")
tech = User.objects.get(username="demo-tech")
info = InformationSystem.objects.create(engagement=engagement, site=site, name="运维管理系统")
root = vault.secret_put(actor=system("e2e"), target=vault.Target(engagement=engagement, site=site,
    system_name="运维管理系统", hostname="hz-ops01", login_name="root"), secret=%(admin)r)
target = discovery.target_save(actor=tech, system=info, hostname="hz-ops01", connector="linux",
    address="127.0.0.1", port=%(port)d, credential=root)
run = discovery.run_start(actor=tech, engagement=engagement, site=site, enqueue=False)
counts = discovery.run_execute(run_id=run.pk).counts
ops = Account.objects.get(login_name="opsuser", asset=target.asset)
vault.secret_capture(actor=system("e2e"), account=ops, secret=%(old)r, kind=SecretKind.ORIGINAL)
print("SCENE", counts["ok"], target.pk)
"""


@dataclass
class Stack:
    server: Server
    host: Host
    log: Path


def _run(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run([str(HANDOVER), *args], input=stdin, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"handover {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with etc_host(sudo_ops=True, chpasswd_adds_group="sudo") as host:
        data_dir, env = migrated_data_dir("hr-e2e-")
        demo = _handover(env, "demo")
        shares = re.findall(r"share \d: (HOV1-\S+)", demo)
        assert len(shares) == 5, demo
        home = tmp_path_factory.mktemp("home")  # gunicorn's control socket would be ~/.gunicorn
        stack_env = {**env, "HOME": str(home), "HANDOVER_VAULT_KEEPER_TOKEN": secrets.token_urlsafe(36)}
        port = _free_port()
        log = data_dir / "serve.log"
        with log.open("w") as out:
            serve = subprocess.Popen(
                [str(HANDOVER), "serve", "--addr", f"127.0.0.1:{port}", "--workers", "1"],
                env=stack_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        try:
            _wait_for_port(serve, port, log)
            cli = {**stack_env, "HANDOVER_VAULT_KEEPER": "socket"}
            said = _run(cli, "vault", "unseal", stdin=shares[0] + "\n")
            nonce = said.rsplit("--nonce ", 1)[1].strip()  # the ceremony the next holders join
            for share in shares[1:3]:
                said = _run(cli, "vault", "unseal", "--nonce", nonce, stdin=share + "\n")
            assert said.strip() == "unsealed", said
            said = _run(cli, "shell", stdin=SCENE % {"admin": ADMIN_PW, "old": OLD_PW, "port": host.port})
            assert re.search(r"^SCENE 1 \d+$", said, re.MULTILINE), said
            server = Server(
                base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, passwords=parse_demo_logins(demo)
            )
            yield Stack(server, host, log)
        finally:
            serve.terminate()
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
            shutil.rmtree(data_dir, ignore_errors=True)


def _keep(page: Page, seen: list[str]) -> None:
    """What a page showed, kept for the canary scan (a page closing as the test ends has nothing to keep)."""
    with contextlib.suppress(PlaywrightError):
        seen.append(page.content())


def _page(browser: Browser, stack: Stack, username: str, seen: list[str]) -> Page:
    context = browser.new_context(base_url=stack.server.base_url, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.on("load", lambda p: _keep(p, seen))
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", stack.server.passwords[username])
    page.get_by_test_id("login").click()
    page.get_by_test_id("skip-totp").click()
    expect(page.get_by_test_id("who")).to_be_visible()
    return page


def _logs_in(host: Host, login: str, secret: str) -> bool:
    """A fresh SSH login on the host, in a thread of its own (Playwright's sync API holds this thread's loop)."""
    place = Target("127.0.0.1", host.port, timeout=20.0)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, linux_changer.login_works(place, login, secret)).result()


def test_plan_approved_run_one_fails_verification_e01_and_the_approved_revert(
    stack: Stack, browser: Browser
) -> None:
    seen: list[str] = []
    onsite = _page(browser, stack, "demo-onsite-hz", seen)
    tech = _page(browser, stack, "demo-tech", seen)

    # The branch's post draws up the plan; it cannot approve it (no 管理流程, and 第八条); 技术组 approves.
    onsite.goto("/e/demo/rotation/")
    onsite.select_option("select[name=site]", "BR-HZ")
    onsite.get_by_test_id("plan-create").click()
    expect(onsite.get_by_test_id("progress")).to_have_attribute("data-state", "draft")
    expect(onsite.get_by_test_id("approve")).to_have_count(0)
    expect(onsite.get_by_test_id("items")).to_contain_text("opsuser")
    plan_url = onsite.url
    tech.goto(plan_url)
    tech.get_by_test_id("approve").click()
    expect(tech.get_by_test_id("progress")).to_have_attribute("data-state", "approved")

    # The run happens in the task worker; the page follows it (it reloads itself while the plan runs).
    onsite.reload()
    onsite.get_by_test_id("run").click()
    expect(onsite.get_by_test_id("queued").or_(onsite.get_by_test_id("eta")).first).to_be_visible()
    try:
        expect(onsite.get_by_test_id("progress")).to_have_attribute(
            "data-state", "done", timeout=STARTUP_GUARD_SECONDS * 1000
        )
    except AssertionError as exc:
        raise AssertionError(
            f"the run did not finish; the server's log:\n{stack.log.read_text()[-4000:]}"
        ) from exc
    items = onsite.get_by_test_id("items")
    root_row = items.locator("tr", has=onsite.locator("code", has_text=re.compile(r"^root$")))
    ops_row = items.locator("tr", has=onsite.locator("code", has_text="opsuser"))
    expect(root_row).to_contain_text("成功")
    expect(ops_row).to_contain_text("失败")
    expect(ops_row).to_contain_text("groups")  # what moved besides the password: the group the tool added
    assert not _logs_in(
        stack.host, "opsuser", OLD_PW
    )  # changed on the host: the change stands until reverted
    assert not _logs_in(stack.host, "root", ADMIN_PW)  # root's too (verified, 成功)

    # E01 is open from opsuser's 表10 row; the revert waits for the developer's support on the case.
    ops_row.locator("a", has_text="opsuser").click()
    e01 = onsite.get_by_test_id("e01")
    expect(e01).to_be_visible()
    item_url = onsite.url
    onsite.fill(
        "textarea[name=reason]", "改密后运维管理系统的批处理无法以 opsuser 运行，开发商确认须先恢复原密码"
    )
    onsite.get_by_test_id("revert-form").locator("button[type=submit]").click()
    expect(onsite.locator("[data-testid=reverts] tr[data-state=requested]")).to_have_count(1)
    # The asker cannot approve (第八条); another person does.
    expect(onsite.get_by_test_id("revert-approve")).to_be_visible()
    onsite.get_by_test_id("revert-approve").click()
    expect(onsite.locator("[data-testid=reverts] tr[data-state=requested]")).to_have_count(1)
    tech.goto(item_url)
    tech.get_by_test_id("revert-approve").click()
    expect(tech.locator("[data-testid=reverts] tr[data-state=approved]")).to_have_count(1)
    # Applying before the case records the developer's support is refused; nothing changes on the host.
    onsite.goto(item_url)
    onsite.get_by_test_id("revert-apply").click()
    expect(onsite.locator("[data-testid=reverts] tr[data-state=approved]")).to_have_count(1)
    assert not _logs_in(stack.host, "opsuser", OLD_PW)
    onsite.goto(item_url)
    e01.locator("a", has_text="E01").click()
    onsite.select_option("select[name=key]", "vendor_support")
    onsite.fill("input[name=record]", "运维管理系统开发商 王工")
    onsite.get_by_test_id("tick").click()
    expect(onsite.get_by_test_id("checklist")).to_contain_text("✓ 取得系统开发商技术支持")
    onsite.goto(item_url)
    onsite.get_by_test_id("revert-apply").click()
    expect(onsite.locator("[data-testid=reverts] tr[data-state=applied]")).to_have_count(1)
    expect(onsite.get_by_test_id("reverts")).to_contain_text("成功")
    assert _logs_in(stack.host, "opsuser", OLD_PW)  # the original is the host's again

    # No password on any page the two people saw, in the host's sshd log (DEBUG3) or the server's log.
    texts = [*seen, stack.host.log.read_text(errors="replace"), stack.log.read_text(errors="replace")]
    for secret in (ADMIN_PW, OLD_PW):
        assert all(secret not in text for text in texts)
