"""The whole 交接期 of one 营业部 in a real browser (issue 4, "Tests"): 上海浦东营业部 of the demo is late on
the day after D; its 现场技术岗位 and the firm's 被托管技术方 work T-01…T-10 (and the management steps before
them) through the register pages, importing xlsx files written here and typing a few rows, with the 第八条
executor/supervisor pair on every ★ row and the footers signed; a failed 表14 backup starts E05 from its row,
which closes with its signed 表39 entry reported to 技术组; 技术组's overview shows the site's cells turn from
red to green; 技术组 builds 表24 and the package on its page, downloads it, and it verifies offline, in
process and as ``handover package verify``.

The demo has no systems at this branch and no logins for its people, so the scene adds two systems with a
host and super-user accounts each, and logins for the branch's 现场技术岗位 and 被托管技术方, through the
services in a ``handover shell`` subprocess before the browser starts (this process never touches the ORM,
see conftest.py); 技术组 then links each login to its person on the person's page. Every system of the site
is covered in every register that lists systems.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from handover.reports import verify
from tests.e2e.conftest import HANDOVER, Server, _handover, _server_env, demo_server, shell_scene

pytestmark = pytest.mark.e2e

LogIn = Callable[[Page, str], None]
SITE, SITE_NAME = "BR-SH1", "上海浦东营业部"
COUNTER, MARKET = "浦东柜台系统", "浦东行情系统"
COUNTER_HOST, MARKET_HOST = "pd-gt01", "pd-hq01"
ACCOUNTS = (  # login@host, system, host, layer
    ("root@pd-gt01", COUNTER, COUNTER_HOST, "操作系统"),
    ("dbadmin@pd-gt01", COUNTER, COUNTER_HOST, "数据库"),
    ("root@pd-hq01", MARKET, MARKET_HOST, "操作系统"),
)
ONSITE, FIRM_IT, FINANCE, TECH = "e2e-onsite-sh1", "e2e-it-sh1", "demo-finance", "demo-tech"
# How long the package build may take before the test gives up (a hang guard, not an assertion).
BUILD_GUARD_MS = 300_000
GREEN = re.compile(r"\bs-done(_late)?\b")
RED = re.compile(r"\bs-overdue\b")

SCENE = f"""
import json
from handover.accounts import enrolment
from handover.accounts import services as accounts
from handover.core.actors import system
from handover.org import services as org
from handover.org.models import Engagement, Organisation, OrgType, Party, Person, Role, Site
from handover.registers import inventory

actor = system("e2e")
engagement = Engagement.objects.get(code="demo")
site = Site.objects.get(engagement=engagement, code="{SITE}")
vendor = Organisation.objects.get(engagement=engagement, type=OrgType.APP_VENDOR)
hosts = {{}}
for name, category, host in (("{COUNTER}", "营业部柜台", "{COUNTER_HOST}"), ("{MARKET}", "行情", "{MARKET_HOST}")):
    found = inventory.system_ensure(
        actor=actor, engagement=engagement, site=site, name=name, category=category, version="V6.0",
        platform="Windows Server 2016 / SQL Server 2016", vendor=vendor,
    )
    hosts[host] = (found, inventory.asset_ensure(
        actor=actor, engagement=engagement, site=site, hostname=host, system=found
    ))
for login, layer in (("root", "操作系统"), ("dbadmin", "数据库")):
    counter, asset = hosts["{COUNTER_HOST}"]
    inventory.account_ensure(
        actor=actor, system=counter, asset=asset, login_name=login, layer=layer, account_class="超级用户"
    )
market, asset = hosts["{MARKET_HOST}"]
inventory.account_ensure(
    actor=actor, system=market, asset=asset, login_name="root", layer="操作系统", account_class="超级用户"
)
people = Person.objects.filter(engagement=engagement, site=site, is_active=True).order_by("pk")
onsite = people.get(party=Party.ONSITE_POST)
firm_it = people.filter(party=Party.FIRM_IT, employment="employed").first()
passwords = {{}}
for username, person in (("{ONSITE}", onsite), ("{FIRM_IT}", firm_it)):
    password = accounts.password_generate()
    user, _code = accounts.user_create(actor=actor, username=username, display_name=person.name)
    enrolment.login_bootstrap_console(actor=actor, user=user, password=password)
    passwords[username] = password
org.role_grant(actor=actor, person=firm_it, role=Role.FIRM_IT, site=site)
staff = [
    {{"name": p.name, "dept": p.department, "post": p.post}}
    for p in people if p.party in (Party.FIRM_IT, Party.FIRM_FINANCE, Party.BUSINESS)
]
print("SCENE", json.dumps({{
    "site_id": site.pk, "disposal_date": engagement.disposal_date.isoformat(), "passwords": passwords,
    "onsite": onsite.name, "firm_it": firm_it.name, "staff": staff,
    "people": {{"{ONSITE}": onsite.pk, "{FIRM_IT}": firm_it.pk}},
    "vendor": vendor.name,
    "carrier": Organisation.objects.get(engagement=engagement, type=OrgType.LINE_CARRIER).name,
}}, ensure_ascii=False))
"""


class Scene:
    """What the scene script set up: the site's id, D, the names of its people and organisations."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.site_id: int = data["site_id"]
        self.d = dt.date.fromisoformat(data["disposal_date"])
        self.onsite: str = data["onsite"]
        self.firm_it: str = data["firm_it"]
        self.people: dict[str, int] = data["people"]  # login → id of the person it is to be linked to
        self.staff: list[dict[str, str]] = data["staff"]
        self.vendor: str = data["vendor"]
        self.carrier: str = data["carrier"]

    def at(self, hhmm: str, days: int = 0) -> str:
        """A time on D (or ``days`` after), as a person types it in a file."""
        return f"{(self.d + dt.timedelta(days=days)).isoformat()} {hhmm}"

    def day(self, days: int = 0) -> str:
        return (self.d + dt.timedelta(days=days)).isoformat()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A demo of its own: the walk turns a late branch done, which other tests' assertions do not expect."""
    with demo_server() as running:
        yield running


@pytest.fixture(scope="module")
def scene(server: Server) -> Scene:
    data = json.loads(shell_scene(server, SCENE, "SCENE", "the walk's scene"))
    server.passwords.update(data["passwords"])
    return Scene(data)


class Walk:
    """The people of the walk, each in a browser context of their own, and what they do on the pages."""

    def __init__(self, pages: dict[str, Page], scene: Scene, server: Server, folder: Path) -> None:
        self.pages, self.scene, self.server, self.folder = pages, scene, server, folder
        self.onsite, self.it, self.finance, self.tech = (pages[u] for u in (ONSITE, FIRM_IT, FINANCE, TECH))

    # -- registers ---------------------------------------------------------------------------------------
    def import_rows(
        self, number: int, rows: list[dict[str, Any]], header: dict[str, Any] | None = None
    ) -> str:
        """As 现场技术岗位: fill the blank template of 表N (downloaded from the import page) with ``rows``
        (label → value, 序号 = position) and import it at the site; returns the form's path."""
        page = self.onsite
        page.goto(f"/e/demo/registers/{number}/import/{self.scene.site_id}/")
        response = page.request.get(f"{self.server.base_url}/e/demo/registers/{number}/template/xlsx/")
        assert response.ok, response.status
        path = self.folder / f"表{number}.xlsx"
        path.write_bytes(fill_template(response.body(), rows, header or {}, self.scene))
        page.set_input_files("input[name=file]", str(path))
        page.get_by_test_id("import").click()
        outcome = page.get_by_test_id("import-outcome")
        expect(outcome).to_have_attribute("data-state", re.compile(r"^(done|refused|failed)$"))
        assert outcome.get_attribute("data-state") == "done", outcome.inner_text()
        page.get_by_test_id("imported-form").click()
        expect(page.get_by_test_id("form-no")).to_be_visible()
        return self.path_of(page)

    def open_form(self, number: int) -> str:
        """As 现场技术岗位: open an empty form of 表N at the site dated D; returns its path."""
        page = self.onsite
        page.goto(f"/e/demo/registers/{number}/forms/new/")
        page.select_option("select[name=site]", str(self.scene.site_id))
        page.fill("input[name=form_date]", self.scene.day())
        page.get_by_test_id("save").click()
        expect(page.get_by_test_id("form-no")).to_be_visible()
        return self.path_of(page)

    def row_paths(self, form_path: str) -> list[str]:
        self.onsite.goto(form_path)
        links = self.onsite.locator("table.rows tbody tr[data-seq] td:first-child a")
        return [str(href) for href in links.evaluate_all("els => els.map(e => e.getAttribute('href'))")]

    def row_ids(self, form_path: str) -> list[int]:
        return [int(p.rstrip("/").rsplit("/", 1)[1]) for p in self.row_paths(form_path)]

    def sign_rows(self, form_path: str) -> None:
        """第八条 on every row of a ★ form: 被托管技术方 executes, 现场技术岗位 supervises."""
        for row_path in self.row_paths(form_path):
            for page, kind in ((self.it, "executor"), (self.onsite, "supervisor")):
                page.goto(row_path)
                page.get_by_test_id(f"sign-{kind}").click()
                page.get_by_test_id(f"sign-{kind}-yes").click()
                expect(page.locator("ul.messages li.success")).to_be_visible()

    def submit_and_sign(
        self, form_path: str, *, finance: bool = False, rows: bool = False, tech: bool = False
    ) -> None:
        """Submit the form (被托管技术方) and sign its footer: 现场技术岗位, 被托管技术方 and, where the
        register asks for it, 被托管机构财务 and 技术组 (表39: 技术组 acknowledges the report, 第二十八条)."""
        if rows:
            self.sign_rows(form_path)
        self.it.goto(form_path)
        self.it.get_by_test_id("submit-form").click()
        expect(self.it.locator("ul.messages li.success")).to_be_visible()
        signers = [self.onsite, self.it] + ([self.finance] if finance else []) + ([self.tech] if tech else [])
        for page in signers:
            page.goto(form_path)
            page.get_by_test_id("sign-form").click()
            page.get_by_test_id("sign-form-yes").click()
            expect(page.locator("ul.messages li.success")).to_be_visible()
        expect(signers[-1].get_by_test_id("form-state")).to_have_class(re.compile(r"\bok\b"))

    # -- workflow ----------------------------------------------------------------------------------------
    def site_page(self) -> Page:
        self.onsite.goto(f"/w/demo/sites/{self.scene.site_id}/")
        return self.onsite

    def expect_done(self, *step_ids: str) -> None:
        """The site page shows each step done (on time or late), derived from the signed registers."""
        page = self.site_page()
        for step_id in step_ids:
            expect(page.get_by_test_id(f"row-{step_id}").get_by_test_id(f"state-{step_id}")).to_have_class(
                GREEN
            )

    def path_of(self, page: Page) -> str:
        return page.url.removeprefix(self.server.base_url)


def fill_template(template: bytes, rows: list[dict[str, Any]], header: dict[str, Any], scene: Scene) -> bytes:
    """The template with 日期 D, the site, the register's own header fields and the rows under 序号."""
    book = openpyxl.load_workbook(io.BytesIO(template))
    sheet = book.worksheets[0]
    given = {"日期": scene.day(), "填报单位/站点": SITE, **header}
    labels: list[str] = []
    header_row = 0
    for cells in sheet.iter_rows(min_row=1, max_row=20):
        texts = [str(c.value).strip() if c.value is not None else "" for c in cells]
        if texts and texts[0] == "序号":
            labels, header_row = texts, cells[0].row
            break
        for index, text in enumerate(texts[:-1]):
            if text in given:
                cells[index + 1].value = given[text]
    assert labels, "the template has no 序号 row"
    unknown = {label for row in rows for label in row} - set(labels)
    assert not unknown, f"not columns of the template: {unknown}"
    for seq, row in enumerate(rows, 1):
        values = {"序号": seq, **row}
        for column, label in enumerate(labels, 1):
            if label in values:
                value = values[label]
                sheet.cell(
                    row=header_row + seq,
                    column=column,
                    value="、".join(value) if isinstance(value, list) else value,
                )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def heat_cell(page: Page, step_id: str) -> Any:
    return page.get_by_test_id("heatmap").locator(f'tr[data-testid="site-{SITE}"] a[title^="{step_id} "]')


def test_a_branch_walks_its_handover_and_the_package_verifies(
    browser: Browser, scene: Scene, server: Server, log_in: LogIn, tmp_path: Path
) -> None:
    started = time.monotonic()
    contexts: list[BrowserContext] = []
    pages: dict[str, Page] = {}
    for username in (ONSITE, FIRM_IT, FINANCE, TECH):
        context = browser.new_context(base_url=server.base_url, locale="zh-CN", timezone_id="Asia/Shanghai")
        contexts.append(context)
        pages[username] = context.new_page()
        log_in(pages[username], username)
    try:
        link_logins(pages[TECH], scene)
        walk = Walk(pages, scene, server, tmp_path)
        for part in (
            late_before,
            same_day_feedback,
            management_steps,
            backups_passwords_permissions,
            current_data_with_e05,
            documents_equipment_virus_and_test,
            green_after,
        ):
            began = time.monotonic()
            part(walk)
            print(f"{part.__name__}: {time.monotonic() - began:.1f} s")
        package(walk, tmp_path)
    finally:
        for context in contexts:
            context.close()
    print(f"the walk took {time.monotonic() - started:.1f} s")


def link_logins(tech: Page, scene: Scene) -> None:
    """技术组 links the new logins of the branch's 现场技术岗位 and 被托管技术方 to their people, on each
    person's page (the login then acts with the person's roles)."""
    for username, name in ((ONSITE, scene.onsite), (FIRM_IT, scene.firm_it)):
        tech.goto(f"/e/demo/people/{scene.people[username]}/")
        tech.select_option("select[name=user]", label=f"{username} · {name}")
        tech.get_by_test_id("link-login").click()
        expect(tech.locator("ul.messages li.success")).to_be_visible()
        expect(tech.get_by_test_id("linked-login")).to_have_text(username)


def late_before(walk: Walk) -> None:
    """The day after D, the branch is red on 技术组's overview: its steps of D are genuinely overdue."""
    tech = walk.tech
    tech.goto("/w/demo/")
    for step_id in ("M-01", "M-05", "T-01", "T-02", "T-04"):
        expect(heat_cell(tech, step_id)).to_have_class(RED)
    tech.goto("/e/demo/packages/")
    expect(tech.get_by_test_id("not-done")).to_contain_text(SITE_NAME)


def same_day_feedback(walk: Walk) -> None:
    """第二十七条第2项: the post reports each late step the same day; 技术组 reports the branch's feedback and
    the escalations raised at midnight to the working group."""
    page = walk.site_page()
    expected = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=1)
    buttons = page.locator('[data-testid^="feedback-"]')
    expect(buttons.first).to_be_visible()
    late = buttons.count()
    for _ in range(late):
        buttons.first.click()
        page.fill("textarea[name=reason]", "处置日当晚柜台系统备份耗时超出预期，次日上午完成其余交接")
        page.fill("input[name=expected_at]", f"{expected.isoformat()}T10:00")
        page.get_by_test_id("save").click()
        expect(page.get_by_test_id("site-steps")).to_be_visible()
    expect(buttons).to_have_count(0)
    tech = walk.tech
    tech.goto("/w/demo/reports/")
    boxes = tech.locator("label", has_text=SITE_NAME).locator("input[type=checkbox]")
    assert boxes.count() >= late, boxes.count()
    for index in range(boxes.count()):
        boxes.nth(index).check()
    tech.fill("textarea[name=text]", f"{SITE_NAME}处置日交接延误，现场技术岗位已当日反馈，预计次日上午完成。")
    tech.get_by_test_id("save").click()
    expect(tech.locator("ul.messages li.success")).to_be_visible()


def management_steps(walk: Walk) -> None:
    """M-01 (evidence, confirmed), M-03 (表5, and 表6 built from it), M-05 (表7)."""
    s = walk.scene
    page = walk.site_page()
    page.get_by_test_id("row-M-01").locator("a").first.click()
    page.set_input_files(
        "input[name=file]",
        files=[
            {"name": "M-01-人员交流签到表.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 M-01"}
        ],
    )
    page.get_by_test_id("upload").click()
    expect(page.get_by_test_id("evidence")).to_contain_text("M-01-人员交流签到表.pdf")
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("state-M-01")).to_have_class(GREEN)

    staff = [
        {
            "姓名": p["name"], "站点": SITE, "部门": p["dept"] or "营业部", "岗位": p["post"] or "职员",
            "负责系统": [COUNTER, MARKET], "用工性质": "正式", "在职状态": "在职", "联系电话": f"021-5888{n:04d}",
        }
        for n, p in enumerate(s.staff, 1)
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(5, staff))
    walk.submit_and_sign(walk.open_form(6))  # computed from 表5 when it is opened
    systems = [
        {
            "系统": name, "站点": SITE, "开发商": s.vendor, "版本": "V6.0",
            "平台": "Windows Server 2016 / SQL Server 2016", "运行状态": "正常", "被托管方负责人": s.firm_it,
            "与准备期核对": "一致", **dict.fromkeys(PROGRESS, "未开始"),
        }
        for name in (COUNTER, MARKET)
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(7, systems))
    walk.expect_done("M-01", "M-03", "M-05")


PROGRESS = (
    "交接进度（系统备份）",
    "交接进度（密码）",
    "交接进度（权限）",
    "交接进度（数据备份）",
    "交接进度（系统检测）",
)


def backups_passwords_permissions(walk: Walk) -> None:
    """T-01 (表8, ★), T-02 (表9, 表10, ★), T-03 (表11, 表12, 表13 ★): backup before every change."""
    s = walk.scene
    backups = []
    for index, (name, host) in enumerate(((COUNTER, COUNTER_HOST), (MARKET, MARKET_HOST)), 1):
        for n, (purpose, kind, method, start, end) in enumerate(
            (
                ("交接全备份", "数据库", "数据库备份", "18:00", "18:30"),
                ("改密前备份", "用户权限配置文件", "文件备份", "18:35", "18:45"),
                ("权限核查前备份", "用户权限配置文件", "文件备份", "18:50", "19:00"),
                # 第二十六条第1项: the full backup also covers the software, the parameter files and the logs.
                ("交接全备份", "应用软件", "文件备份", "17:30", "17:45"),
                ("交接全备份", "参数配置文件", "文件备份", "17:46", "17:50"),
                ("交接全备份", "运行日志", "文件备份", "17:51", "17:55"),
            ),
            1,
        ):
            backups.append({
                "系统": name, "主机": host, "备份目的": purpose, "备份对象类别": kind,
                "备份内容/路径": f"{name} {kind}", "备份方式": method, "开始": s.at(start), "结束": s.at(end),
                "介质类型": "移动硬盘", "介质编号": f"PD-HD-{index}{n}", "份数": 2, "可读性校验": "通过",
                "存放地点": "营业部机房保险柜", "封条号": f"FT-PD-{index}{n}",
            })  # fmt: skip
    t8 = walk.import_rows(8, backups)
    t8_no = form_no(walk.onsite)
    t8_ids = walk.row_ids(t8)
    walk.submit_and_sign(t8, rows=True)
    walk.expect_done("T-01")

    def backup_of(system: str, purpose: str) -> int:
        """序号 of the system's backup of that purpose in 表8."""
        return next(i for i, b in enumerate(backups, 1) if b["系统"] == system and b["备份目的"] == purpose)

    receipts = [
        {
            "系统": system, "设备": host, "层次": layer, "账户": account, "类别": "超级用户",
            "原掌握人": s.firm_it, "获取方式": "被托管技术方提供", "保管引用": f"信封 PD-{n:03d}，保险柜A",
            "已接收确认": "是", "登录验证": "成功", "验证时间": s.at(f"19:{10 + n}"), "现掌握人": s.onsite,
            "见证": s.firm_it,
        }
        for n, (account, system, host, layer) in enumerate(ACCOUNTS, 1)
    ]  # fmt: skip
    t9 = walk.import_rows(9, receipts)
    t9_no = form_no(walk.onsite)
    walk.submit_and_sign(t9, rows=True)
    # The new passwords go into sealed envelopes: this walk captures nothing in the vault, and a 保管引用 that
    # says 密码保管系统 must name a real entry (tests/vault/test_references.py).
    changes = [
        {
            "系统": system, "设备": host, "层次": layer, "账户": account, "类别": "超级用户",
            "原密码登记": f"{t9_no}#{n}", "改密前备份": f"{t8_no}#{backup_of(system, '改密前备份')}",
            "修改时间": s.at(f"20:{n:02d}"), "执行人": s.firm_it, "已修改确认": "是",
            "保管引用": f"信封 PD-N{n:03d}，保险柜A", "保管方式": "密封信封入保险柜", "掌握人": s.onsite,
            "登录验证": "成功", "验证时间": s.at(f"20:{30 + n}"), "配置文件中使用": "不涉及", "业务测试": "正常",
        }
        for n, (account, system, host, layer) in enumerate(ACCOUNTS, 1)
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(10, changes), rows=True)
    walk.expect_done("T-02")

    def review(change: str = "") -> list[dict[str, Any]]:
        """表11: every super-user kept, but the database administrator's rights reduced once 表13 says so."""
        rows = []
        for account, system, host, layer in ACCOUNTS:
            reduced = account == "dbadmin@pd-gt01" and bool(change)
            rows.append({
                "系统": system, "设备": host, "层次": layer, "用户": account, "类别": "超级用户",
                "使用人": s.firm_it, "状态": "在职", "核查前权限": f"{layer}全部权限", "必要": "是",
                "最小权限": "否" if layer == "数据库" and not reduced else "是", "专人专户": "是",
                "用于后台处理": "否", "处理措施": "降权" if reduced else "保留",
                "核查后权限": "仅日终批处理所需的表读写权限" if reduced else f"{layer}全部权限",
                "权限配置备份": f"{t8_no}#{backup_of(system, '权限核查前备份')}",
                **({"变更记录": change} if reduced else {}),
            })  # fmt: skip
        return rows

    t11 = walk.import_rows(11, review())
    dbadmin_review = walk.row_ids(t11)[1]
    operators = [
        {
            "员工": p["name"], "站点": SITE, "部门": p["dept"] or "营业部", "岗位": p["post"] or "职员",
            "系统": COUNTER, "操作员代码": "dbadmin@pd-gt01", "角色": "运维", "功能权限": "日终处理、数据备份",
            "与岗位职责相符": "是", "专人专户": "是", "员工状态": "在职", "核查结论": "保留",
        }
        for p in s.staff[:1]
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(12, operators))
    # 表13, typed: the database administrator's rights reduced after the 权限核查前备份, its log attached.
    t13 = walk.open_form(13)
    t13_no = form_no(walk.onsite)
    page = walk.onsite
    page.get_by_test_id("add-row").click()
    page.fill("input[name=change_no]", "PD-QX-001")
    page.select_option("select[name=system_id]", label=COUNTER)
    page.select_option("select[name=account_id]", label="dbadmin@pd-gt01")
    page.fill("input[name=basis_ref]", str(dbadmin_review))
    page.select_option("select[name=change_type]", "B降权")
    page.fill("textarea[name=perm_before]", "DBA 全部权限")
    page.fill("textarea[name=perm_after]", "仅日终批处理所需的表读写权限")
    page.fill("input[name=pre_backup_ref]", str(t8_ids[backup_of(COUNTER, "权限核查前备份") - 1]))
    page.fill("input[name=done_at]", f"{s.day()}T21:00")
    page.set_input_files(
        "input[name=procedure_log]",
        files=[{"name": "PD-QX-001-操作记录.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 QX"}],
    )
    page.select_option("select[name=run_check]", "正常")
    page.get_by_test_id("save").click()
    expect(page).to_have_url(re.compile(r"/e/demo/register-rows/\d+/$"))
    walk.submit_and_sign(t13, rows=True)
    walk.import_rows(11, review(f"{t13_no}#1"))  # the same file again, now naming the change: updates row 2
    walk.submit_and_sign(t11)
    walk.expect_done("T-03")


def form_no(page: Page) -> str:
    return page.get_by_test_id("form-no").inner_text().strip()


def current_data_with_e05(walk: Walk) -> None:
    """T-04 (表14, ★): the counter system's own backup of the exchange's files cannot be read back; the post
    starts E05 from that row, the developer is called, a file backup replaces it, the 表39 entry is written,
    signed by 现 and 被 and reported to 技术组, and the case closes; the failed row names its 表39 entry."""
    s = walk.scene

    def data(system: str, data_class: str, method: str, n: int, readable: str = "通过") -> dict[str, Any]:
        return {
            "系统": system, "站点": SITE, "数据类别": data_class, "数据/文件名称": f"{system} {data_class} {method}",
            "数据截止日": s.day(), "备份方式": method, "备份时间": s.at(f"21:{n:02d}"), "介质": "移动硬盘",
            "介质编号": f"PD-SJ-{n:02d}", "封条号": f"FT-PD-SJ{n:02d}", "完整性": "通过", "可读性": readable,
            "异地备份": "是", "异地备份地点": "上海分公司机房保险柜", "上交总部方式": "内部网络",
        }  # fmt: skip

    rows = [
        data(COUNTER, "当前数据", "数据库备份", 1),
        data(MARKET, "当前数据", "数据库备份", 2),
        data(COUNTER, "交易所清算文件-沪", "应用系统备份功能", 3, readable="不通过"),
    ]
    t14 = walk.import_rows(14, rows)
    page = walk.site_page()
    page.get_by_test_id("row-T-04").locator("a").first.click()
    start = page.get_by_test_id("rows-14").locator("li").nth(2).get_by_test_id("start-E05")
    failed_row = int(re.search(r"[?&]row=(\d+)", start.get_attribute("href") or "")[1])  # type: ignore[index]
    start.click()
    expect(page.locator("select[name=path_id]")).to_have_value("E05")
    page.fill("textarea[name=description]", "柜台系统自带备份功能导出的上交所清算文件无法读取")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("case-state")).to_have_attribute("data-state", "open")
    case_path = walk.path_of(page)
    page.select_option("select[name=key]", "vendor_support")
    page.fill("input[name=record]", s.vendor)
    page.get_by_test_id("tick").click()
    expect(page.get_by_test_id("checklist")).to_contain_text(s.vendor)
    page.select_option("select[name=key]", "file_backup")
    page.fill("textarea[name=note]", "改用文件备份，校验通过（表14 第4行）")
    page.get_by_test_id("tick").click()
    expect(page.get_by_test_id("checklist")).to_contain_text("改用文件备份")
    expect(page.get_by_test_id("close-refusal")).to_contain_text("表39")

    t39 = walk.open_form(39)
    t39_no = form_no(page)
    page.get_by_test_id("add-row").click()
    page.fill("input[name=risk_no]", "PD-R-001")
    page.select_option("select[name=phase]", "交接期")
    page.select_option("select[name=site_id]", str(s.site_id))
    page.select_option("select[name=exc_type]", "E05 数据备份异常")
    page.fill("input[name=found_at]", f"{s.day()}T21:10")
    page.fill("input[name=source_row_ref]", str(failed_row))
    page.fill("textarea[name=description]", "柜台系统自带备份功能导出的上交所清算文件无法读取")
    page.fill("textarea[name=impact]", "无，已改用文件备份")
    page.select_option("select[name=trading_impact]", "否")
    page.fill(
        "textarea[name=steps_done]",
        "①联系开发商远程支持，仍失败；②改用文件备份并校验通过；③登记表39上报技术组",
    )
    page.select_option("select[name=vendor_org_id]", label=s.vendor)
    page.select_option("select[name=outcome]", "替代方式完成")
    page.fill("input[name=reported_tg_at]", f"{s.day()}T21:40")
    page.select_option("select[name=state]", "已关闭")
    page.fill("input[name=closed_on]", s.day())
    page.get_by_test_id("save").click()
    expect(page).to_have_url(re.compile(r"/e/demo/register-rows/\d+/$"))
    walk.submit_and_sign(t39, tech=True)

    page.goto(case_path)
    expect(page.get_by_test_id("close-refusal")).to_contain_text("表39")  # signed, but not linked yet
    page.locator("select[name=row]").select_option(index=0)
    page.get_by_test_id("link").click()
    expect(page.get_by_test_id("t39")).to_contain_text(t39_no)
    expect(page.get_by_test_id("t39")).to_contain_text("21:40")  # reported to 技术组
    page.get_by_test_id("close").click()
    expect(page.get_by_test_id("case-state")).to_have_attribute("data-state", "closed")

    # The replacement backup, and the failed row names its 表39 entry: the same file, two rows more filled.
    rows[2]["异常"] = f"{t39_no}#1"
    rows.append(data(COUNTER, "交易所清算文件-沪", "文件备份", 4))
    rows.append(data(COUNTER, "交易所清算文件-深", "文件备份", 5))  # 第二十六条第4项: all the files of D
    rows.append(data(COUNTER, "证券余额对账文件", "文件备份", 6))
    walk.import_rows(14, rows)
    walk.submit_and_sign(t14, rows=True)
    walk.expect_done("T-04")
    expect(walk.site_page().get_by_test_id("site-cases").locator("li", has_text="E05")).to_have_attribute(
        "data-state", "closed"
    )


def documents_equipment_virus_and_test(walk: Walk) -> None:
    """T-05 (表15), T-06 and T-07 (表16–21, with 财务 on the ledgers and contracts), T-08 (表22), T-10 (表23)."""
    s = walk.scene
    systems = ((COUNTER, COUNTER_HOST, "服务器", "联想 SR550"), (MARKET, MARKET_HOST, "PC", "联想 M720"))
    history = [
        {
            "站点": SITE, "系统": name, "数据起日": "2015-03-01", "数据止日": s.day(-1), "存放位置": "营业部磁带柜",
            "备份方式": "每日磁带备份", "介质": "LTO-6 磁带", "有效性": "通过", "完整性": "通过", "连续性": "连续",
            "篡改/删除迹象": "否", "移交异常类型": "无",
        }
        for name, *_ in systems
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(15, history))
    walk.expect_done("T-05")

    hardware = [
        {
            "固定资产编号": f"GZ-PD-{n:04d}", "设备名称": host, "类别": kind, "品牌型号": model,
            "序列号": f"SNPD{n:04d}", "数量": 1, "所用系统": name, "存放地点（站点）": SITE,
            "存放地点（机房/机柜）": "营业部机房 01", "设备状况": "正常", "账实核对": "相符",
        }
        for n, (name, host, kind, model) in enumerate(systems, 1)
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(16, hardware), finance=True)
    software = [
        {
            "软件名称": name, "版本": "V6.0", "类别": "应用系统", "开发商/供应商": s.vendor, "所属系统": name,
            "安装设备": host, "源代码": "未移交",
        }
        for name, host, *_ in systems
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(17, software), finance=True)
    titles = (
        ("应急预案", "营业部信息系统应急预案"),
        ("系统技术文档", f"{COUNTER}技术手册"),
        ("系统运行维护日志", "机房值班日志"),
    )
    documents = [
        {
            "资料类别": category, "资料名称": title, "编号": f"PD-ZL-{n:03d}", "存放地点": "档案室",
            "载体": "纸质", "是否齐全": "是", "封存编号": f"PD-FC-{n:03d}",  # 第二十二条: sealed
        }
        for n, (category, title) in enumerate(titles, 1)
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(18, documents))
    contracts = [
        {
            "合同编号": "YS-HT-PD-001", "合同名称": "柜台系统运维服务合同", "对方单位": s.vendor, "类别": "运维服务",
            "签订日期": "2024-01-10", "起始日期": "2024-01-15", "终止日期": s.day(200), "金额": "240000.00",
            "付款方式": "按季度银行转账", "已付": "180000.00", "未付": "60000.00", "执行情况": "履行中",
            "原件存放地点": "计划财务部档案柜",
        }
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(19, contracts), finance=True)
    contacts = [
        {
            "单位类别": kind, "单位": org, "联系人": person, "职务": title, "电话": phone, "手机": "13800000000",
            "7×24": phone, "核实日期": s.day(),
        }
        for kind, org, person, title, phone in (
            ("应用系统开发商", s.vendor, "周工", "驻场经理", "021-58000001"),
            ("线路运营商", s.carrier, "钱工", "客户经理", "021-58000002"),
        )
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(20, contacts))
    lines = [
        {
            "线路编号": f"PD-ZX-{n:02d}", "用途": "交易所报盘", "A端": SITE, "B端": "上海证券交易所",
            "运营商": s.carrier, "介质": medium, "带宽": bandwidth, "主备": role, "报修电话": "021-58000002",
            "状态": "在用",
        }
        for n, (medium, bandwidth, role) in enumerate((("地面", "10M", "主"), ("卫星", "2M", "备")), 1)
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(21, lines))
    walk.expect_done("T-06", "T-07")

    scans = [
        {
            "设备": host, "系统": name, "站点": SITE, "补丁已升级": "是", "杀毒软件": "示范杀毒网络版",
            "病毒库版本": s.day().replace("-", ""), "断网": s.at("22:00"), "查杀开始": s.at("22:05"),
            "查杀结束": s.at("23:05"), "恢复联网": s.at("23:15"), "感染数": 0, "处理结果": "无感染",
            "查杀后运行": "正常",
        }
        for name, host, *_ in systems
    ]  # fmt: skip
    totals = {"设备总数": 2, "已查杀": 2, "感染数": 0, "未完成": 0}
    walk.submit_and_sign(walk.import_rows(22, scans, header=totals))
    walk.expect_done("T-08")
    # On D itself, after the scans: D is yesterday in Beijing, so any time on D is in the past whatever the
    # hour this runs at (a time on D+1 is in the future before 08:00 Beijing and the import refuses it).
    tests = [
        {
            "系统": name, "站点": SITE, "检测来源": "联网联调", "检测项目": item, "前置工作完成": "是",
            "检测时间": s.at(f"23:{40 + n}"), "检测结果": "通过",
        }
        for n, (name, item) in enumerate(((COUNTER, "交易委托"), (MARKET, "行情")), 1)
    ]  # fmt: skip
    walk.submit_and_sign(walk.import_rows(23, tests))
    walk.expect_done("T-01", "T-02", "T-03", "T-04", "T-05", "T-06", "T-07", "T-08", "T-10")


def green_after(walk: Walk) -> None:
    """技术组's overview: every cell of the branch is green now, and it is no longer among the late."""
    tech = walk.tech
    tech.goto("/w/demo/")
    row = tech.get_by_test_id("heatmap").locator(f'tr[data-testid="site-{SITE}"]')
    for step_id in ("M-01", "M-05", "T-01", "T-02", "T-04"):
        expect(heat_cell(tech, step_id)).to_have_class(GREEN)
    classes = row.locator("a[title]").evaluate_all("els => els.map(e => e.className)")
    assert classes and all(GREEN.search(c) for c in classes), classes
    expect(row.locator("td.muted")).to_have_text(f"{len(classes)}/{len(classes)}")
    expect(tech.get_by_test_id("overdue")).not_to_contain_text(SITE_NAME)


def package(walk: Walk, folder: Path) -> None:
    """技术组 builds 表24 and the package (other demo sites are still late: with a residual-risk reason),
    downloads it; it verifies in process and with ``handover package verify``, and annexes the branch's
    signed registers 表5–23 and 表39."""
    tech = walk.tech
    tech.goto("/e/demo/packages/")
    expect(tech.get_by_test_id("not-done")).not_to_contain_text(SITE_NAME)
    tech.fill("textarea[name=residual_risk]", "其余营业部交接未完成，次日继续；上海浦东营业部已完成")
    tech.fill("textarea[name=summary]", "交接工作总结：上海浦东营业部已完成，其余营业部次日继续")
    building = time.monotonic()
    # The build runs in the server's task worker; the page follows it and reloads itself until the package.
    tech.get_by_test_id("build").click()
    tech.get_by_test_id("built-package").first.click(timeout=BUILD_GUARD_MS)
    expect(tech.get_by_test_id("digest")).to_be_visible()
    print(f"package build: {time.monotonic() - building:.1f} s")
    with tech.expect_download() as download:
        tech.get_by_test_id("download").click()
    target = folder / "package.zip"
    download.value.save_as(target)
    env = _server_env(walk.server.data_dir)
    pem = folder / "package-key.pem"
    pem.write_text(_handover(env, "package", "public-key"))
    report = verify.verify_package(target, verify.load_public_key(pem.read_bytes()))
    assert report.intact, report.problems
    assert not any(SITE_NAME in gap["site"] for gap in report.metadata["sites_not_done"])
    annexed = {a["register"] for a in report.metadata["annexes"] if SITE_NAME in a["site"]}
    assert annexed >= {*range(5, 24), 39}, sorted(annexed)
    assert report.metadata["table24"]
    with zipfile.ZipFile(target) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("table24/") and n.endswith(".xlsx")]
        assert sheets, archive.namelist()
        book = openpyxl.load_workbook(io.BytesIO(archive.read(sheets[0])), read_only=True)
    cells = {str(v) for sheet in book.worksheets for r in sheet.iter_rows(values_only=True) for v in r if v}
    assert any(SITE_NAME in c or c == SITE for c in cells), "表24 has no line of the branch"
    checked = subprocess.run(
        [str(HANDOVER), "package", "verify", str(target), "--public-key", str(pem)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "INTACT" in checked.stdout
