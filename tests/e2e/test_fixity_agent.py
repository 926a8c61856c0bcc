"""The field agent against a real server: ``handover-agent`` (the installed script, in its own process) enrols
its site key over HTTP with an API token, checks a tree, bundles and uploads the report (a damaged copy is
refused); the on-site post sees the bundle on the page in a real browser, and uploading it once more there
changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

AGENT = Path(sys.executable).with_name("handover-agent")
USER = "demo-onsite-hz"


def run_agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(AGENT), *args], capture_output=True, text=True, check=False, env=env)


def api_token(server: Server) -> str:
    body = json.dumps({"username": USER, "password": server.passwords[USER]}).encode()
    request = urllib.request.Request(  # noqa: S310 (the test's own server)
        f"{server.base_url}/api/auth/token/", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return str(json.loads(response.read())["token"])


def test_agent_enrols_bundles_and_the_page_imports_once(
    server: Server, page: Page, log_in: Callable[[Page, str], None], tmp_path: Path
) -> None:
    if not AGENT.exists():
        pytest.fail(f"{AGENT} is missing: install the package with its scripts")
    env = {
        **os.environ,
        "HANDOVER_AGENT_TOKEN": api_token(server),
        "HANDOVER_AGENT_DIR": str(tmp_path / "agent"),
    }
    refused = run_agent(
        "enroll", "--server", server.base_url, "--engagement", "demo", "--site", "BR-GZ", env=env
    )
    assert refused.returncode == 2 and "403" in refused.stderr  # not this person's branch
    done = run_agent(
        "enroll", "--server", server.base_url, "--engagement", "demo", "--site", "BR-HZ", env=env
    )
    assert done.returncode == 0, done.stderr
    tree = tmp_path / "backup"
    (tree / "20261201").mkdir(parents=True)
    (tree / "20261201/trade.csv").write_text("账号,金额\n1,1.00\n", encoding="gbk")
    manifest, report = tmp_path / "m.sm3", tmp_path / "v.json"
    assert run_agent("scan", str(tree), "-o", str(manifest), "--algo", "sm3", "-q").returncode == 0
    (tree / "20261201/trade.csv").unlink()
    assert (
        run_agent("verify", str(tree), "--manifest", str(manifest), "--json", str(report), "-q").returncode
        == 1
    )
    bundle = tmp_path / "hz.zip"
    packed = run_agent(
        "bundle", str(report), "-o", str(bundle), "--site", "BR-HZ", "--system", "柜台系统", env=env
    )
    assert packed.returncode == 0, packed.stderr

    sent = run_agent("upload", str(bundle), "--server", server.base_url, env=env)
    assert sent.returncode == 0 and "imported (digest" in sent.stdout, sent.stderr
    damaged = bytearray(bundle.read_bytes())
    damaged[damaged.find(b"reports/01") + 120] ^= 0x01
    (tmp_path / "damaged.zip").write_bytes(bytes(damaged))
    refused = run_agent("upload", str(tmp_path / "damaged.zip"), "--server", server.base_url, env=env)
    assert refused.returncode == 2 and "400" in refused.stderr

    log_in(page, USER)
    page.goto("/e/demo/backups/")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("BR-HZ")
    expect(rows.first).to_contain_text(USER)
    page.set_input_files("input[name=file]", str(bundle))  # the same bundle once more, by the page
    page.get_by_test_id("import").click()
    expect(page.locator("ul.messages li.info")).to_have_count(1)
    expect(rows).to_have_count(1)
