"""The handover day's users, for Locust (bench/handover_day.py starts it; not run on its own).

One session per login of the plan that ``HANDOVER_LOAD_PLAN`` names (the generator's file: user names,
passwords and TOTP secrets, the sites, forms and steps): each logs in with its password and a code computed
from its secret, as a person does with an authenticator, then acts at its site. The on-site post and the
firm's IT of a site sign each other's rows (第八条: executor and supervisor, two people), passed between them
in this process's queues. Nothing here prints a secret.

The sessions are ``FastHttpUser`` (geventhttpclient): a request costs Locust a fraction of what ``HttpUser``
(requests) costs, and Locust shares the machine with the server it measures. Its responses' ``url`` is the
last of the redirects followed (the request object is redirected in place), which is where a POST landed.
``Ceiling`` is not part of the day: run alone (``locust … Ceiling``), its sessions ask for the empty view
back to back, so the rate they reach is the most this machine serves through the whole stack.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import os
import random
import re
from typing import Any

import pyotp
from locust import FastHttpUser, between, constant, task

PLAN: dict[str, Any] = json.loads(open(os.environ["HANDOVER_LOAD_PLAN"]).read())  # noqa: SIM115
CODE = PLAN["code"]
BY_ROLE: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
for entry in PLAN["logins"]:
    BY_ROLE[entry["role"]].append(entry)
NEXT = {role: itertools.cycle(entries) for role, entries in BY_ROLE.items()}
TO_EXECUTE: dict[int, collections.deque[int]] = collections.defaultdict(collections.deque)  # site → rows
TO_SUPERVISE: dict[int, collections.deque[int]] = collections.defaultdict(collections.deque)
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ROW = re.compile(r"/register-rows/(\d+)/")
BEIJING = dt.timezone(dt.timedelta(hours=8))
REGISTERS_ONLY = bool(PLAN.get("registers_only"))  # bench/handover_day.py --registers-only
CSV_HEAD = "序号,资料类别,资料名称,编号,存放地点,简要说明,载体,份数,所属系统,封存编号,是否齐全,异常,备注"


class Person(FastHttpUser):
    """A login of the plan, logged in with its second factor."""

    abstract = True
    role = ""
    wait_time = between(*PLAN.get("think", (2, 8)))

    def on_start(self) -> None:
        self.me = next(NEXT[self.role])
        self.token = self._token("/accounts/login/", "login page")
        answer = self.client.post(
            "/accounts/login/", {"username": self.me["username"], "password": self.me["password"],
                                 "csrfmiddlewaretoken": self.token}, name="login: password",
        )  # fmt: skip
        code = pyotp.TOTP(self.me["totp"]).now()
        found = TOKEN.search(answer.text or "")
        self.token = found.group(1) if found else self.token
        with self.client.post("/accounts/login/code/", {"code": code, "csrfmiddlewaretoken": self.token},
                              name="login: TOTP code", catch_response=True) as done:  # fmt: skip
            if "/accounts/login" in str(done.url):
                done.failure("the second factor was refused")
        self.token = self._token("/", "home")

    def _token(self, path: str, name: str) -> str:
        page = self.client.get(path, name=name)
        found = TOKEN.search(page.text or "")
        return (
            found.group(1)
            if found
            else next((c.value or "" for c in self.client.cookiejar if c.name == "csrftoken"), "")
        )

    def post(self, path: str, data: dict[str, Any], name: str, lands: str, **kwargs: Any) -> str:
        """POST as the page's form does; a failure unless it lands on a page whose path has ``lands``."""
        with self.client.post(path, {**data, "csrfmiddlewaretoken": self.token}, name=name, catch_response=True,
                              headers={"X-CSRFToken": self.token}, **kwargs) as answer:  # fmt: skip
            text = answer.text or ""
            if lands not in str(answer.url) or 'class="errorlist' in text:
                found = re.search(r'class="[^"]*(?:error|errorlist)[^"]*"[^>]*>(.{0,200})', text, re.S)
                answer.failure(f"stayed on {answer.url}: {found.group(1).strip() if found else ''}")
            return str(answer.url)


class OnsitePost(Person):
    """现场技术岗位: adds 表8 rows and supervises them, imports small 表18 files, gives feedback."""

    role = "onsite_post"
    fixed_count = PLAN["writers"] // 2 + PLAN["writers"] % 2

    @task(3)
    def add_row(self) -> None:
        me = self.me
        row = {
            "system_id": random.choice(me["systems"]), "asset_id": random.choice(me["assets"]),
            "purpose": "交接全备份", "object_type": "应用软件", "content": "柜台系统全量备份", "method": "全备份",
            "started_at": "2026-12-01T16:00", "ended_at": "2026-12-01T16:40", "media_type": "光盘",
            "media_no": f"M{random.randrange(10**6)}", "copies": "2", "readable": "通过", "location": "机房保险柜",
            "seal_no": f"F{random.randrange(10**6)}", "remarks": "",
        }  # fmt: skip
        url = self.post(
            f"/e/{CODE}/register-forms/{me['form']}/rows/new/", row, "表8 add a row", "/register-rows/"
        )
        found = ROW.search(url)
        if found:
            TO_EXECUTE[me["site_id"]].append(int(found.group(1)))

    @task(2)
    def supervise(self) -> None:
        queue = TO_SUPERVISE[self.me["site_id"]]
        if queue:
            row = queue.popleft()
            self.post(f"/e/{CODE}/register-rows/{row}/sign/", {"kind": "supervisor"}, "表8 row: sign (supervisor)",
                      "/register-rows/")  # fmt: skip

    @task(3)
    def rows(self) -> None:
        self.client.get(f"/e/{CODE}/registers/8/?site={self.me['site_id']}", name="表8 row list")

    @task(2)
    def site_page(self) -> None:
        if not REGISTERS_ONLY:
            self.client.get(f"/w/{CODE}/sites/{self.me['site_id']}/", name="workflow site page")

    @task(1)
    def import_file(self) -> None:
        number = f"{self.me['site_code']}-L18-{random.randrange(10**9)}"
        lines = ["表18：交接日技术资料登记表", f"编号,{number},日期,2026-12-01,填报单位/站点,{self.me['site_code']}",
                 CSV_HEAD]  # fmt: skip
        lines += [f"{k},系统运行维护日志,运维日志{k},D{k},机房,,纸质,1,,S{k},是,," for k in range(1, 6)]
        content = ("\n".join(lines) + "\n").encode("utf-8-sig")
        self.post(f"/e/{CODE}/registers/18/import/{self.me['site_id']}/", {}, "表18 import (5 rows)",
                  "/register-imports/", files={"file": ("表18.csv", content, "text/csv")})  # fmt: skip

    @task(1)
    def upload_bundle(self) -> None:
        path = self.me["bundle"]
        if path and not getattr(self, "uploaded", False):  # once: a second upload only finds it imported
            self.uploaded = True
            with open(path, "rb") as bundle:
                self.post(f"/e/{CODE}/backups/", {}, "fixity bundle upload", "/backups/",
                          files={"file": ("bundle.zip", bundle.read(), "application/zip")})  # fmt: skip

    @task(1)
    def feedback(self) -> None:
        if REGISTERS_ONLY:
            return
        later = dt.datetime.now(BEIJING) + dt.timedelta(hours=2)  # it must lie ahead
        data = {"reason": "介质不足，等待补充", "expected_at": later.strftime("%Y-%m-%dT%H:%M")}
        self.post(f"/w/{CODE}/steps/{self.me['step']}/feedback/", data, "same-day feedback", "/sites/")


class FirmIT(Person):
    """被托管技术方: reads its site's 表8 rows and signs them as executor."""

    role = "firm_it"
    fixed_count = PLAN["writers"] // 2

    @task(3)
    def execute(self) -> None:
        queue = TO_EXECUTE[self.me["site_id"]]
        if queue:
            row = queue.popleft()
            self.post(f"/e/{CODE}/register-rows/{row}/sign/", {"kind": "executor"}, "表8 row: sign (executor)",
                      "/register-rows/")  # fmt: skip
            TO_SUPERVISE[self.me["site_id"]].append(row)

    @task(2)
    def form(self) -> None:
        self.client.get(f"/e/{CODE}/register-forms/{self.me['form']}/", name="表8 form page")

    @task(1)
    def rows(self) -> None:
        self.client.get(f"/e/{CODE}/registers/8/?site={self.me['site_id']}", name="表8 row list")

    @task(1)
    def baseline(self) -> None:
        """The bare cost of a request through the whole stack (session, middleware, a view that does nothing
        but redirect), measured in the same run as the pages, under the same load."""
        self.client.get("/favicon.ico", name="baseline: empty view", allow_redirects=False)


class TechGroup(Person):
    """技术组: the overview, and the pages of the sites."""

    role = "tech_group"
    fixed_count = PLAN["tech"]
    wait_time = between(1, 3)

    @task(2)
    def overview(self) -> None:
        self.client.get(f"/w/{CODE}/", name="workflow overview")

    @task(3)
    def site_page(self) -> None:
        self.client.get(f"/w/{CODE}/sites/{random.choice(self.me['sites'])}/", name="workflow site page")

    @task(1)
    def rows(self) -> None:
        self.client.get(f"/e/{CODE}/registers/8/", name="表8 row list")


class Observer(Person):
    """The 证监局's observer: the summary."""

    role = "observer"
    fixed_count = PLAN["observers"]
    wait_time = between(1, 3)

    @task
    def summary(self) -> None:
        self.client.get(f"/w/{CODE}/summary/", name="workflow summary")


class Ceiling(Person):
    """The empty view (the favicon redirect, through every middleware and the session) back to back: run
    alone, the rate its sessions reach is the ceiling of this machine, load generator included."""

    role = "ceiling"
    fixed_count = PLAN.get("ceiling", 0)
    wait_time = constant(0)

    @task
    def empty(self) -> None:
        self.client.get("/favicon.ico", name="ceiling: empty view", allow_redirects=False)
