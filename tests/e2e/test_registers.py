"""The registers' browser scenario (第八条): as 被托管技术方 fill a 表8 row at 杭州营业部 and sign it as executor;
as that branch's 现场技术岗位 sign it as supervisor; one person holding both roles signs one side and is
refused the other; the signed row's form is exported to xlsx from its page and the file opened again.

The demo has no systems or hosts yet, so the scene adds one of each at 杭州营业部 and a login holding both
roles there, through the services in a ``handover shell`` subprocess (this process never touches the ORM,
see conftest.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from handover.demo.org import PEOPLE
from tests.e2e.conftest import Server, shell_scene

pytestmark = pytest.mark.e2e

LogIn = Callable[[Page, str], None]
SYSTEM, HOST, BOTH = "杭州柜台系统（E2E）", "hz-counter-e2e", "e2e-both-roles"

SCENE = f"""
from handover.accounts import enrolment
from handover.accounts import services as accounts
from handover.core.actors import system
from handover.org import services as org
from handover.org.models import Engagement, Organisation, OrgType, Party, Role, RoleAssignment, Site
from handover.registers import inventory

actor = system("e2e")
engagement = Engagement.objects.get(code="demo")
site = Site.objects.get(engagement=engagement, code="BR-HZ")
counter = inventory.system_ensure(actor=actor, engagement=engagement, site=site, name="{SYSTEM}")
inventory.asset_ensure(actor=actor, engagement=engagement, site=site, hostname="{HOST}", system=counter)
password = accounts.password_generate()
user, _ = accounts.user_create(actor=actor, username="{BOTH}", display_name="{BOTH}")
enrolment.login_bootstrap_console(actor=actor, user=user, password=password)
firm = Organisation.objects.get(engagement=engagement, type=OrgType.FIRM)
person = org.person_create(
    actor=actor, engagement=engagement, name="{BOTH}", organisation=firm, site=site, party=Party.FIRM_IT, user=user
)
org.role_grant(actor=actor, person=person, role=Role.FIRM_IT, site=site)
# 第八条: role_grant refuses the on-site post to a person of the firm; the role is written past it, as old data
# or a hand edit of the database would be, so that the signature itself must refuse the second side.
RoleAssignment.objects.create(engagement=engagement, person=person, role=Role.ONSITE_POST, site=site)
print("PASSWORD", password)
"""


@pytest.fixture(scope="module")
def scene(server: Server) -> Server:
    server.passwords[BOTH] = shell_scene(server, SCENE, "PASSWORD", "the register scene")
    return server


def open_t8_form(page: Page, server: Server) -> str:
    """Open a 表8 form at 杭州营业部 from the register's list page; returns the form page's path."""
    page.goto("/e/demo/registers/8/")
    page.get_by_test_id("open-form").click()
    hangzhou = page.locator("select[name=site] option", has_text="杭州营业部").get_attribute("value")
    assert hangzhou
    page.select_option("select[name=site]", hangzhou)
    page.fill("input[name=form_date]", "2026-12-01")
    page.get_by_test_id("save").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(server.base_url)}/e/demo/register-forms/\d+/$"))
    expect(page.get_by_test_id("form-no")).to_have_text(re.compile(r"^BR-HZ-T08-20261201-\d{3}$"))
    return page.url.removeprefix(server.base_url)


def fill_t8_row(
    page: Page, server: Server, form_path: str, media_no: str, *, system: str = SYSTEM, hostname: str = HOST
) -> str:
    """Add one 表8 row to the form through the row form; returns the row page's path."""
    page.goto(form_path)
    page.get_by_test_id("add-row").click()
    page.select_option("select[name=system_id]", label=system)
    # A host is offered with the systems it runs ("host · 系统"), only those of the form's line of the site tree.
    host = page.locator("select[name=asset_id] option", has_text=hostname).first
    page.select_option("select[name=asset_id]", value=host.get_attribute("value") or "")
    for name, value in (
        ("purpose", "改密前备份"),
        ("object_type", "数据库"),
        ("method", "数据库备份"),
        ("media_type", "移动硬盘"),
        ("readable", "通过"),
    ):
        page.select_option(f"select[name={name}]", value)
    page.fill("textarea[name=content]", "/u01/oradata 全库导出")
    page.fill("input[name=started_at]", "2026-12-01T09:00")
    page.fill("input[name=ended_at]", "2026-12-01T09:45")
    page.fill("input[name=media_no]", media_no)
    page.fill("input[name=copies]", "2")
    page.fill("input[name=location]", "杭州营业部机房保险柜")
    page.fill("input[name=seal_no]", f"FT-{media_no}")
    page.get_by_test_id("save").click()
    expect(page).to_have_url(re.compile(r"/e/demo/register-rows/\d+/$"))
    expect(page.get_by_test_id("version").first).to_contain_text(media_no)
    return page.url.removeprefix(server.base_url)


def signatures(page: Page) -> list[str]:
    return (
        page.locator('[data-testid="version"]')
        .first.locator("[data-kind]")
        .evaluate_all("els => els.map(e => e.dataset.kind)")
    )


def test_fill_a_t8_row_and_sign_it_as_executor_then_supervisor(
    new_context: Callable[..., BrowserContext], log_in: LogIn, scene: Server, tmp_path: Path, artefacts: Path
) -> None:
    firm_it = new_context().new_page()
    log_in(firm_it, "demo-firm-it")
    form_path = open_t8_form(firm_it, scene)
    row_path = fill_t8_row(firm_it, scene, form_path, "HZ-E2E-001")
    # 被托管技术方 executes: the executor's button, not the supervisor's.
    expect(firm_it.get_by_test_id("sign-supervisor")).to_have_count(0)
    # Issue 17: the first click says what the signature means; nothing is signed until the second.
    firm_it.get_by_test_id("sign-executor").click()
    expect(firm_it.get_by_test_id("sign-executor-yes")).to_be_visible()
    firm_it.screenshot(path=artefacts / "sign-confirm.png", full_page=True)
    assert signatures(firm_it) == []
    firm_it.get_by_test_id("sign-executor-yes").click()
    expect(firm_it.locator("ul.messages li.success")).to_be_visible()
    assert signatures(firm_it) == ["executor"]
    expect(firm_it.get_by_test_id("sign-executor")).to_have_count(0)

    onsite = new_context().new_page()
    log_in(onsite, "demo-onsite-hz")
    onsite.goto(row_path)
    expect(onsite.get_by_test_id("sign-executor")).to_have_count(0)
    onsite.get_by_test_id("sign-supervisor").click()
    onsite.get_by_test_id("sign-supervisor-yes").click()
    expect(onsite.locator("ul.messages li.success")).to_be_visible()
    assert signatures(onsite) == ["executor", "supervisor"]
    # The list shows who executed and who supervised.
    onsite.goto(form_path)
    row = onsite.locator('table.rows tr[data-seq="1"]')
    expect(row.get_by_test_id("executor")).to_have_text(PEOPLE["demo-firm-it"])
    expect(row.get_by_test_id("supervisor")).to_have_text(PEOPLE["demo-onsite-hz"])
    export_signed_form(onsite, tmp_path)


def export_signed_form(page: Page, folder: Path) -> None:
    """The form's xlsx export, downloaded from its page, opened again: the title, the row and both signers."""
    with page.expect_download() as started:
        page.get_by_test_id("export-links").get_by_test_id("export-xlsx").click()
    download = started.value
    assert download.suggested_filename.startswith("表8_交接日系统备份登记表_BR-HZ-T08-20261201-")
    assert download.suggested_filename.endswith(".xlsx")
    saved = folder / download.suggested_filename
    download.save_as(saved)
    book = openpyxl.load_workbook(saved, read_only=True)
    cells = [v for sheet in book.worksheets for r in sheet.iter_rows(values_only=True) for v in r if v]
    assert "表8：交接日系统备份登记表" in cells and "HZ-E2E-001" in cells and SYSTEM in cells
    assert any(str(v).startswith(PEOPLE["demo-firm-it"] + " ") for v in cells)
    assert any(str(v).startswith(PEOPLE["demo-onsite-hz"] + " ") for v in cells)


def test_one_person_holding_both_roles_is_refused_the_second_signature(
    page: Page, log_in: LogIn, scene: Server
) -> None:
    log_in(page, BOTH)
    form_path = open_t8_form(page, scene)
    fill_t8_row(page, scene, form_path, "HZ-E2E-002")
    page.get_by_test_id("sign-executor").click()
    page.get_by_test_id("sign-executor-yes").click()
    expect(page.locator("ul.messages li.success")).to_be_visible()
    # Holding the on-site post too (written past role_grant), they are offered the supervisor's button, and
    # refused when they press it.
    page.get_by_test_id("sign-supervisor").click()
    page.get_by_test_id("sign-supervisor-yes").click()
    refusal = page.locator("ul.messages li.error")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text(BOTH)
    expect(refusal).to_contain_text("第八条")
    assert signatures(page) == ["executor"]
