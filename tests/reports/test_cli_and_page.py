"""``handover package build|verify|public-key`` end to end, and the package page of 技术组 per role."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from handover.cli.main import main
from handover.org.models import Role
from handover.registers.models import FormState
from handover.reports import services
from handover.reports.models import HandoverPackage, PackageApproval, PackageDistribution
from tests.reports.support import done_world, rewrite, signed_list, working_group_member
from tests.vault.helpers import next_code

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keep_test_connection(monkeypatch):
    # run_from_argv closes every connection when a command ends, which would close the test's database.
    from django.db import connections

    monkeypatch.setattr(connections, "close_all", lambda: None)


def _run(capsys, *argv):
    try:
        main(["package", *argv])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_build_refused_then_built_with_a_reason_then_verified(tmp_path, capsys):
    world, _tech = done_world()
    signed_list(world, world.branch_b, register_no=10, state=FormState.DRAFT)
    code = world.engagement.code
    target = tmp_path / "package.zip"
    status, _out, err = _run(capsys, "build", "--engagement", code, "-o", str(target))
    assert status == 1 and "--user" in err and "技术组" in err and not target.exists()  # nobody to sign 表24
    status, _out, err = _run(capsys, "build", "--engagement", code, "--user", "tech", "-o", str(target))
    assert status == 1 and "乙营业部（BB）" in err and not target.exists()
    status, out, err = _run(capsys, "build", "--engagement", code, "--user", "tech", "-o", str(target),
                            "--residual-risk", "乙营业部改密次日补做")  # fmt: skip
    assert status == 0, err
    package = HandoverPackage.objects.get()
    assert package.digest in out and package.built_by_name == "tech"
    assert package.table24.get().signatures.get().person.user.username == "tech"
    pem = tmp_path / "package.pub"
    status, out, _err = _run(capsys, "public-key")
    pem.write_text(out)
    assert status == 0 and out.startswith("-----BEGIN PUBLIC KEY-----")
    status, out, _err = _run(capsys, "verify", str(target), "--public-key", str(pem))
    assert status == 0 and "INTACT" in out and "the given public key" in out


def test_verify_runs_as_the_installed_script_with_no_settings_and_names_the_tampering(tmp_path):
    world, tech = done_world()
    package = services.package_build(actor=tech, engagement=world.engagement)
    path = services.package_path(package)
    changed = next(n for n in zipfile.ZipFile(path).namelist() if n.startswith("annexes/HQ/"))
    bad = rewrite(path, tmp_path / "bad.zip", replace={changed: b"x"}, add={"extra.txt": b"y"})
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = "src"
    env["HANDOVER_DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"  # no database is ever reached
    script = str(Path(sys.executable).with_name("handover"))
    done = subprocess.run([script, "package", "verify", str(path)], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "UNTRUSTED" in done.stdout, done.stdout + done.stderr  # L6: no key given
    done = subprocess.run(
        [script, "package", "verify", str(path), "--trust-embedded-key"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not trusted" in done.stdout
    done = subprocess.run(
        [script, "package", "verify", str(bad), "--trust-embedded-key"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert f"CHANGED   {changed}" in done.stdout and "ADDED     extra.txt" in done.stdout
    assert "NOT INTACT: 2 problem(s)" in done.stdout


def _page(world, username):
    return reverse("reports:package_list", kwargs={"code": world.engagement.code})


def test_tech_group_builds_approves_distributes_and_downloads_on_the_page(client, tmp_path):
    world, tech = done_world()
    client.force_login(tech)
    url = _page(world, "tech")
    assert 'data-testid="all-done"' in client.get(url).content.decode()
    response = client.post(url, {"residual_risk": "", "summary": "交接完成", "algorithm": "sha256"})
    package = HandoverPackage.objects.get()
    assert response.status_code == 302
    detail = reverse(
        "reports:package_detail", kwargs={"code": world.engagement.code, "package_id": package.pk}
    )
    page = client.get(detail).content.decode()
    table24 = package.table24.get()
    assert package.digest in page and f"{table24.form_no} v1" in page and "tech" in page
    refused = client.post(
        detail, {"record": "distribution", "recipient": "firm", "sent_at": "2030-01-01T10:00"}
    )
    assert refused.status_code == 400 and not PackageDistribution.objects.exists()
    # 第二十七条第4项: 技术组 cannot type the working group's approval any more (trace C14) ...
    typed = client.post(
        detail, {"record": "approval", "approver": "王组长", "approved_at": "2030-01-01T09:00"}
    )
    assert typed.status_code == 400 and not PackageApproval.objects.exists()
    assert 'data-testid="awaiting-approval"' in client.get(detail).content.decode()
    approve_url = reverse(
        "reports:package_approve", kwargs={"code": world.engagement.code, "package_id": package.pk}
    )
    assert client.get(approve_url).status_code == 403
    # ... a member of the working group reads the package and approves it with their own code.
    member, totp = working_group_member(world, "王组长")
    wg = Client()
    wg.force_login(member)
    listing = wg.get(reverse("reports:approval_list", kwargs={"code": world.engagement.code}))
    assert approve_url in listing.content.decode()
    assert wg.get(detail).status_code == 403  # 技术组's page stays 技术组's
    read = wg.get(
        reverse("reports:approval_download", kwargs={"code": world.engagement.code, "package_id": package.pk})
    )
    assert read.status_code == 200 and b"".join(read.streaming_content)
    wrong = wg.post(approve_url, {"totp_code": "000000", "reference": "批复〔2026〕1号"})
    assert wrong.status_code == 400 and not PackageApproval.objects.exists()
    assert (
        wg.post(approve_url, {"totp_code": next_code(totp), "reference": "批复〔2026〕1号"}).status_code
        == 302
    )
    approval = PackageApproval.objects.get()
    assert approval.person.user == member and approval.approver == "王组长" and approval.recorded_by == member
    for recipient in ("csrc_bureau", "working_group", "firm"):
        sent = client.post(detail, {"recipient": recipient, "sent_at": "2030-01-01T10:00"})
        assert sent.status_code == 302
    branch = {
        "recipient": "branch",
        "site": world.branch_a.pk,
        "sent_at": "2030-01-01T11:00",
    }
    assert client.post(detail, branch).status_code == 302
    body = client.get(detail).content.decode()
    assert "王组长" in body and "甲营业部" in body
    download = client.get(
        reverse("reports:package_download", kwargs={"code": world.engagement.code, "package_id": package.pk})
    )
    target = tmp_path / "downloaded.zip"
    target.write_bytes(b"".join(download.streaming_content))
    from handover.reports import verify

    assert verify.verify_package(target).intact
    addendum = client.get(
        reverse("reports:package_addendum", kwargs={"code": world.engagement.code, "package_id": package.pk})
    )
    (tmp_path / "addendum.json").write_bytes(addendum.content)
    assert len(json.loads(addendum.content)["addendum"]["distribution"]) == 4
    assert verify.verify_addendum(tmp_path / "addendum.json", target, None).intact


def test_the_page_refuses_a_build_without_a_reason_while_sites_are_not_done(client):
    world, tech = done_world()
    signed_list(world, world.branch_b, register_no=10, state=FormState.DRAFT)
    client.force_login(tech)
    url = _page(world, "tech")
    page = client.get(url).content.decode()
    assert 'data-testid="not-done"' in page and "乙营业部（BB）" in page
    response = client.post(url, {"residual_risk": "", "algorithm": "sha256"})
    assert response.status_code == 400 and not HandoverPackage.objects.exists()
    assert "residual-risk" in response.content.decode() or "遗留风险" in response.content.decode()
    assert client.post(url, {"residual_risk": "次日补做", "algorithm": "sha256"}).status_code == 302


@pytest.mark.parametrize(
    "role", [Role.ONSITE_POST, Role.FIRM_IT, Role.FIRM_FINANCE, Role.OBSERVER, Role.AUDITOR]
)
def test_other_roles_cannot_see_or_build_packages(client, role):
    world, tech = done_world()
    package = services.package_build(actor=tech, engagement=world.engagement)
    site = world.branch_a if role in (Role.ONSITE_POST, Role.FIRM_IT, Role.FIRM_FINANCE) else None
    client.force_login(world.login_with(role, site=site))
    code = world.engagement.code
    assert client.get(_page(world, role)).status_code in (403, 404)
    assert client.post(_page(world, role), {"residual_risk": "x", "algorithm": "sha256"}).status_code in (
        403,
        404,
    )
    download = reverse("reports:package_download", kwargs={"code": code, "package_id": package.pk})
    assert client.get(download).status_code in (403, 404)
    assert HandoverPackage.objects.count() == 1


def test_the_django_command_verifies_too(tmp_path):
    import io

    from django.core.management import CommandError, call_command

    world, tech = done_world()
    path = services.package_path(services.package_build(actor=tech, engagement=world.engagement))
    out = io.StringIO()
    call_command("package", "verify", str(path), "--trust-embedded-key", stdout=out)
    assert "INTACT; " in out.getvalue()
    bad = rewrite(path, tmp_path / "bad.zip", drop={"package.json"})
    out = io.StringIO()
    with pytest.raises(CommandError, match="not intact"):
        call_command("package", "verify", str(bad), "--trust-embedded-key", stdout=out)
    assert "MISSING   package.json" in out.getvalue()
