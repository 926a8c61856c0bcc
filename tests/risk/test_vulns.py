"""Vulnerabilities (三(四)一): scans imported from Nessus, OpenVAS and a firm's Chinese CSV, deduplicated by what a
finding is (never its wording), closed only by a later scan of the same tool that covered the host, the same in
any order of imports, and decided (accepted, false positive, fixed) only by two persons (第八条)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handover.core import clock
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Person
from handover.registers import inventory
from handover.risk import rules
from handover.risk.models import DecisionKind, VulnDecision, Vulnerability, VulnScan
from handover.risk.selectors import vulns as vuln_selectors
from handover.risk.services import vulns
from handover.risk.vulnfiles import ScanRefused
from tests.risk.conftest import at
from tests.risk.scans import F, S, chinese_csv, nessus, nessus_csv, openvas

H1, H2 = "10.8.1.11", "10.8.1.12"
SSH = F(H1, 22, "173260", "high", "OpenSSH < 9.3 多个漏洞", ("CVE-2023-28531", "CVE-2023-38408"))
TLS = F(H1, 443, "104743", "medium", "TLS 1.0 协议检测")
SMB = F(H2, 445, "97833", "critical", "MS17-010 远程代码执行", ("CVE-2017-0144",))
INFO = F(H2, 0, "10287", "info", "Traceroute Information")


def _import(world, actor, content, fmt="nessus", name="scan.nessus", **extra):
    return vulns.vulns_import(
        actor=actor, engagement=world.engagement, fmt=fmt, filename=name, content=content, **extra
    )


def _state(world) -> dict[str, tuple]:
    return {
        v.key: (v.first_seen, v.last_seen, v.closed_at, v.scanners, v.severity)
        for v in Vulnerability.objects.filter(engagement=world.engagement)
    }


@pytest.fixture
def tech(people):
    return people["tech"]


def test_a_nessus_scan_creates_one_finding_per_host_port_and_check_and_the_same_file_twice_changes_nothing(
    world, tech
):
    content = nessus(S(at(2026, 11, 2), {H1: "jy-db01.firm.local", H2: ""}, [SSH, TLS, SMB, INFO]))
    assert _import(world, tech, content) == {"created": 3, "updated": 0, "unchanged": 0, "closed": 0}
    found = {v.ident: v for v in Vulnerability.objects.filter(engagement=world.engagement)}
    assert set(found) == {"nessus:173260", "nessus:104743", "nessus:97833"}  # the info item is coverage only
    ssh = found["nessus:173260"]
    assert (ssh.asset_key, ssh.port, ssh.protocol, ssh.severity) == (H1, 22, "tcp", "high")
    assert ssh.cves == "CVE-2023-28531,CVE-2023-38408" and ssh.cnvd == "CNVD-2023-12345"
    assert ssh.first_seen == ssh.last_seen == at(2026, 11, 2) and ssh.closed_at is None
    assert _import(world, tech, content, name="again.nessus") == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "closed": 0,
    }
    assert VulnScan.objects.filter(engagement=world.engagement).count() == 1


def test_a_finding_closes_only_when_a_later_scan_of_its_tool_covers_its_host_and_reopens_when_seen_again(
    world, tech
):
    _import(world, tech, nessus(S(at(2026, 11, 2), {H1: "", H2: ""}, [SSH, TLS, SMB])))
    # OpenVAS covers H1 and does not report the Nessus checks: a different tool's ids, so nothing closes.
    assert (
        _import(world, tech, openvas(S(at(2026, 11, 3), {H1: ""}, [])), fmt="openvas", name="gvm.xml")[
            "closed"
        ]
        == 0
    )
    # A Nessus scan of H2 only says nothing about H1.
    counts = _import(world, tech, nessus(S(at(2026, 11, 4), {H2: ""}, [SMB])), name="h2.nessus")
    assert counts == {"created": 0, "updated": 1, "unchanged": 0, "closed": 0}  # last_seen moved
    # A Nessus scan of H1 without TLS: TLS closes, by that scan.
    later = nessus(S(at(2026, 11, 9), {H1: ""}, [SSH]))
    assert _import(world, tech, later, name="h1.nessus") == {
        "created": 0,
        "updated": 1,
        "unchanged": 0,
        "closed": 1,
    }
    tls = Vulnerability.objects.get(ident="nessus:104743")
    assert tls.closed_at == at(2026, 11, 9) and tls.closed_by_scan.filename == "h1.nessus"
    # Seen again: reopened.
    _import(world, tech, nessus(S(at(2026, 11, 16), {H1: ""}, [SSH, TLS])), name="h1b.nessus")
    tls.refresh_from_db()
    assert tls.closed_at is None and tls.last_seen == at(2026, 11, 16)


def test_a_new_wording_of_the_same_check_updates_the_finding_and_an_older_scan_does_not_overwrite_it(
    world, tech
):
    _import(world, tech, nessus(S(at(2026, 11, 9), {H1: ""}, [SSH])))
    renamed = F(H1, 22, "173260", "critical", "OpenSSH 9.x < 9.3p2 漏洞（更新）", SSH.cves)
    assert (
        _import(world, tech, nessus(S(at(2026, 11, 10), {H1: ""}, [renamed])), name="b.nessus")["updated"]
        == 1
    )
    older = F(H1, 22, "173260", "low", "旧的名称", ())
    assert (
        _import(world, tech, nessus(S(at(2026, 11, 1), {H1: ""}, [older])), name="c.nessus")["updated"] == 1
    )
    found = Vulnerability.objects.get(engagement=world.engagement)
    assert (found.title, found.severity) == ("OpenSSH 9.x < 9.3p2 漏洞（更新）", "critical")
    assert found.first_seen == at(2026, 11, 1) and found.last_seen == at(2026, 11, 10)


def test_nessus_csv_repeats_a_finding_per_cve_and_meets_the_xml_finding_of_the_same_check(world, tech):
    _import(world, tech, nessus(S(at(2026, 11, 2), {H1: ""}, [SSH])))
    counts = _import(
        world,
        tech,
        nessus_csv(S(at(2026, 11, 9), {H1: ""}, [SSH])),
        fmt="csv",
        name="export.csv",
        scanned_at=at(2026, 11, 9),
    )
    assert counts == {"created": 0, "updated": 1, "unchanged": 0, "closed": 0}
    found = Vulnerability.objects.get(engagement=world.engagement)
    assert found.cves == "CVE-2023-28531,CVE-2023-38408" and found.scanners == "nessus"


def test_a_chinese_gb18030_csv_is_read_with_its_scan_time_and_hosts_match_the_registers_assets(world, tech):
    system = inventory.system_ensure(
        actor=tech,
        engagement=world.engagement,
        site=world.branch_a,
        name="集中交易系统",
        category="集中交易",
        version="V8",
        platform="Linux",
    )
    inventory.asset_ensure(
        actor=tech, engagement=world.engagement, site=world.branch_a, hostname="jy-db01", system=system
    )
    content = chinese_csv(S(at(2026, 11, 5, 22), {H1: "jy-db01", H2: ""}, [SSH, SMB]))
    assert _import(world, tech, content, fmt="csv", name="绿盟导出.csv", scanner="rsas")["created"] == 2
    ssh = Vulnerability.objects.get(port=22)
    assert ssh.asset_key == "jy-db01" and ssh.asset.hostname == "jy-db01" and ssh.asset_key != H1
    assert ssh.first_seen == at(2026, 11, 5, 22) and ssh.ident == "rsas:173260" and ssh.severity == "high"
    assert Vulnerability.objects.get(port=445).severity == "critical"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.integers(1, 20),
            st.sets(st.sampled_from(["ssh", "tls", "smb"]), max_size=3),
            st.sets(st.sampled_from([H1, H2]), min_size=1),
        ),
        min_size=1,
        max_size=5,
        unique_by=lambda s: s[0],
    ),
    st.randoms(use_true_random=False),
)
def test_any_order_of_the_same_imports_gives_the_same_findings(world, tech, scans, random):
    by_name = {"ssh": SSH, "tls": TLS, "smb": SMB}
    files = [
        nessus(
            S(
                at(2026, 10, day),
                dict.fromkeys(hosts, ""),
                [by_name[n] for n in names if by_name[n].host in hosts],
            )
        )
        for day, names, hosts in scans
    ]
    states = []
    for order in (files, random.sample(files, len(files))):
        with transaction.atomic():
            for n, content in enumerate(order):
                _import(world, tech, content, name=f"{n}.nessus")
            states.append(_state(world))
            transaction.set_rollback(True)
    assert states[0] == states[1]


def test_a_late_import_of_an_older_scan_does_not_reopen_what_a_newer_scan_closed(world, tech):
    _import(world, tech, nessus(S(at(2026, 11, 2), {H1: ""}, [SSH, TLS])), name="a.nessus")
    _import(world, tech, nessus(S(at(2026, 11, 9), {H1: ""}, [SSH])), name="c.nessus")
    _import(world, tech, nessus(S(at(2026, 11, 5), {H1: ""}, [SSH, TLS])), name="b.nessus")
    tls = Vulnerability.objects.get(ident="nessus:104743")
    assert tls.last_seen == at(2026, 11, 5) and tls.closed_at == at(2026, 11, 9)


def test_a_re_import_never_overwrites_a_persons_owner_or_decision(world, tech, people):
    _import(world, tech, nessus(S(at(2026, 11, 2), {H1: ""}, [SSH])))
    found = Vulnerability.objects.get(engagement=world.engagement)
    owner = Person.objects.get(user=people["onsite"])
    vulns.vuln_assign(actor=tech, vulnerability=found, owner=owner)
    decision = vulns.decision_request(
        actor=tech,
        vulnerability=found,
        kind=DecisionKind.ACCEPT,
        reason="柜台系统厂商补丁未发布，已加访问控制",
        expires_on=clock.now().date() + dt.timedelta(days=30),
    )
    vulns.decision_approve(actor=people["tech2"], decision=decision)
    _import(
        world,
        tech,
        nessus(S(at(2026, 11, 20), {H1: ""}, [F(H1, 22, "173260", "critical", "改名")])),
        name="b.nessus",
    )
    found.refresh_from_db()
    assert found.owner == owner and found.severity == "critical"
    assert found.decisions.get().approved_by.user == people["tech2"]


def test_an_acceptance_is_approved_by_neither_the_asker_nor_the_owner(world, tech, people):
    _import(world, tech, nessus(S(at(2026, 11, 2), {H1: ""}, [SSH])))
    found = Vulnerability.objects.get(engagement=world.engagement)
    vulns.vuln_assign(actor=tech, vulnerability=found, owner=Person.objects.get(user=people["tech2"]))
    decision = vulns.decision_request(
        actor=tech, vulnerability=found, kind=DecisionKind.FALSE_POSITIVE, reason="该端口为蜜罐"
    )
    for who in (tech, people["tech2"]):  # asked it; owns the finding
        with pytest.raises(DomainError, match="neither asked"):
            vulns.decision_approve(actor=who, decision=decision)
    with pytest.raises(PermissionDenied):
        vulns.decision_approve(actor=people["observer"], decision=decision)
    decision.refresh_from_db()
    assert decision.approved_at is None
    with pytest.raises(IntegrityError), transaction.atomic():  # the database says so too
        VulnDecision.objects.filter(pk=decision.pk).update(
            approved_by=decision.requested_by, approved_at=clock.now()
        )
    with pytest.raises(DomainError, match="after today"):
        vulns.decision_request(
            actor=tech,
            vulnerability=found,
            kind=DecisionKind.ACCEPT,
            reason="x",
            expires_on=clock.now().date(),
        )


def test_a_finding_recorded_by_hand_closes_only_when_a_second_person_verifies_the_fix(world, tech, people):
    found = vulns.vuln_record(
        actor=tech,
        engagement=world.engagement,
        source="inspection",
        severity="high",
        title="营业部交易终端未安装准入控制",
        host="10.8.2.0/24",
        reference="沪证监检查〔2026〕12号 问题3",
        found_at=at(2026, 11, 1),
    )
    with pytest.raises(DomainError, match="recorded already"):
        vulns.vuln_record(
            actor=tech,
            engagement=world.engagement,
            source="inspection",
            severity="high",
            title="同一问题",
            host="10.8.2.0/24",
            reference="沪证监检查〔2026〕12号 问题3",
        )
    with pytest.raises(DomainError, match="No fix"):
        vulns.vuln_verify(actor=people["tech2"], vulnerability=found)
    vulns.vuln_fix(actor=tech, vulnerability=found, note="已部署准入系统")
    with pytest.raises(DomainError, match="another person"):
        vulns.vuln_verify(actor=tech, vulnerability=found)
    assert Vulnerability.objects.get(pk=found.pk).closed_at is None
    vulns.vuln_verify(actor=people["tech2"], vulnerability=found)
    assert Vulnerability.objects.get(pk=found.pk).closed_at is not None
    # A scan never closes it, and a scanned finding is not closed by hand.
    _import(world, tech, nessus(S(at(2026, 11, 20), {H1: ""}, [SSH])))
    with pytest.raises(DomainError, match="scan again"):
        vulns.vuln_fix(
            actor=tech, vulnerability=Vulnerability.objects.get(ident="nessus:173260"), note="已升级"
        )


def test_only_who_manages_risk_imports(world, people):
    with pytest.raises(PermissionDenied):
        _import(world, people["observer"], nessus(S(at(2026, 11, 2), {H1: ""}, [SSH])))
    assert not Vulnerability.objects.exists()


def test_sla_days_by_severity_make_open_findings_overdue_unless_accepted(world, tech, people, settings):
    settings.HANDOVER_VULN_SLA_DAYS = "critical=3,high=10"
    _import(world, tech, nessus(S(at(2026, 11, 2), {H1: "", H2: ""}, [SSH, TLS, SMB])))
    now = at(2026, 11, 14)
    late = {v.number: v for v in vuln_selectors.overdue(user=tech, engagement=world.engagement, now=now)}
    smb, ssh = (Vulnerability.objects.get(port=p) for p in (445, 22))
    assert set(late) == {smb.number, ssh.number}  # critical after 3 days, high after 10; medium has 90
    decision = vulns.decision_request(
        actor=tech,
        vulnerability=smb,
        kind=DecisionKind.ACCEPT,
        reason="隔离区",
        expires_on=clock.now().date() + dt.timedelta(days=5),
    )
    vulns.decision_approve(actor=people["tech2"], decision=decision)
    assert {v.number for v in vuln_selectors.overdue(user=tech, engagement=world.engagement, now=now)} == {
        ssh.number
    }
    settings.HANDOVER_VULN_SLA_DAYS = "high=ten"
    with pytest.raises(DomainError, match="HANDOVER_VULN_SLA_DAYS"):
        rules.vuln_sla_days()


# -- bad input ------------------------------------------------------------------------------------------------


def _refused(world, tech, content, fmt, name, match):
    with pytest.raises((ScanRefused, DomainError), match=match) as caught:
        _import(world, tech, content, fmt=fmt, name=name)
    assert not VulnScan.objects.exists() and not Vulnerability.objects.exists()
    return caught.value


def test_a_truncated_scan_is_refused_with_its_line_and_nothing_is_written(world, tech):
    content = nessus(S(at(2026, 11, 2), {H1: ""}, [SSH, TLS]))
    error = _refused(
        world, tech, content[: len(content) // 2], "nessus", "cut.nessus", "cut.nessus was not imported"
    )
    assert "line 2, column" in str(error.message) and "cut short" in str(error.message)


def test_entities_are_refused_no_billion_laughs(world, tech):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b"<NessusClientData_v2>&lol2;</NessusClientData_v2>"
    )
    _refused(world, tech, bomb, "nessus", "bomb.nessus", "DTD")


def test_the_wrong_format_says_which_root_it_found(world, tech):
    _refused(
        world, tech, openvas(S(at(2026, 11, 2), {H1: ""}, [SSH])), "nessus", "gvm.xml", "not a Nessus v2 file"
    )
    _refused(
        world, tech, nessus(S(at(2026, 11, 2), {H1: ""}, [SSH])), "openvas", "n.nessus", "not an OpenVAS"
    )


def test_a_csv_names_its_missing_columns_and_its_bad_rows(world, tech):
    _refused(world, tech, "主机,端口,说明\n10.0.0.1,22,x\n".encode(), "csv", "a.csv", "no header row")
    _refused(
        world,
        tech,
        "IP地址,漏洞名称,端口\n10.0.0.1,x,22\n".encode(),
        "csv",
        "b.csv",
        "missing columns: severity",
    )
    _refused(
        world, tech, "IP地址,漏洞名称,风险等级\n10.0.0.1,x,高\n".encode(), "csv", "c.csv", "插件ID / CVE"
    )
    bad = (
        "IP地址,漏洞名称,风险等级,CVE编号,端口\n10.0.0.1,x,很高,CVE-2024-1,22\n"
        "10.0.0.2,y,高,,70000\n10.0.0.3,z,高,,22\n"
    )
    error = _refused(world, tech, bad.encode("gb18030"), "csv", "d.csv", "d.csv was not imported")
    assert [place for place, _reason in error.problems] == ["row 2, 风险等级", "row 3, 端口", "row 4"]


def test_a_scan_without_a_time_asks_for_it(world, tech):
    content = "IP地址,漏洞名称,风险等级,CVE编号\n10.0.0.1,x,高,CVE-2024-3094\n".encode()
    with pytest.raises(DomainError, match="scanned-at"):
        _import(world, tech, content, fmt="csv", name="e.csv")
    assert _import(world, tech, content, fmt="csv", name="e.csv", scanned_at=at(2026, 11, 2))["created"] == 1
    future = clock.now() + dt.timedelta(days=1)
    with pytest.raises(DomainError, match="future"):
        _import(
            world,
            tech,
            content + b"10.0.0.2,y,\xe9\xab\x98,CVE-2024-3094\n",
            fmt="csv",
            name="f.csv",
            scanned_at=future,
        )


# -- the command line -----------------------------------------------------------------------------------------


def test_the_command_imports_a_scan_prints_the_four_counts_and_refuses_a_bad_file_by_place(
    world, tmp_path, capsys
):
    from django.core.management import CommandError, call_command

    scan = tmp_path / "月度.nessus"
    scan.write_bytes(nessus(S(at(2026, 11, 2), {H1: "", H2: ""}, [SSH, TLS, SMB])))
    report = tmp_path / "counts.json"
    call_command("risk", "vulns", "import", "--engagement", world.engagement.code, "--format", "nessus", str(scan),
                 "--json", str(report))  # fmt: skip
    assert "3 created, 0 updated, 0 unchanged, 0 closed" in capsys.readouterr().out
    assert json.loads(report.read_text()) == {"created": 3, "updated": 0, "unchanged": 0, "closed": 0}
    bad = tmp_path / "bad.csv"
    bad.write_bytes("IP地址,漏洞名称,风险等级,CVE编号\n10.0.0.1,x,很高,CVE-2024-1\n".encode("gb18030"))
    with pytest.raises(CommandError, match="not imported, nothing written"):
        call_command("risk", "vulns", "import", "--engagement", world.engagement.code, "--format", "csv", str(bad),
                     "--scanned-at", "2026-11-03 10:00")  # fmt: skip
    assert "bad.csv: row 2, 风险等级:" in capsys.readouterr().err
    assert Vulnerability.objects.count() == 3


# -- the API --------------------------------------------------------------------------------------------------


def test_the_api_imports_lists_and_decides_with_two_persons(world, people, client):
    from handover.accounts.services import api_token_issue

    def api(user):
        token = api_token_issue(user=user)
        return {"HTTP_AUTHORIZATION": f"Token {token}"}

    base = f"/api/engagements/{world.engagement.code}/risk/vulns/"
    tech, tech2 = api(people["tech"]), api(people["tech2"])
    scan = SimpleUploadedFile("月度.nessus", nessus(S(at(2026, 11, 2), {H1: "", H2: ""}, [SSH, TLS, SMB])))
    answer = client.post(f"{base}import/", {"file": scan, "format": "nessus"}, **tech)
    assert answer.status_code == 201 and answer.json() == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "closed": 0,
    }
    bad = SimpleUploadedFile("bad.nessus", b"<NessusClientData_v2><ReportHost")
    answer = client.post(f"{base}import/", {"file": bad, "format": "nessus"}, **tech)
    assert answer.status_code == 400 and answer.json()["problems"][0]["place"].startswith("第 1 行第")
    observer = api(people["observer"])
    denied = client.post(f"{base}import/", {"file": SimpleUploadedFile("x.nessus", b"<x/>"), "format": "nessus"},
                         **observer)  # fmt: skip
    assert denied.status_code == 403
    onsite = api(people["onsite"])
    listed = client.get(f"{base}?severity=critical", **onsite).json()
    assert listed["total"] == 1 and listed["results"][0]["ident"] == "nessus:97833"
    number = listed["results"][0]["number"]
    assert client.get(f"{base}{number}/", **onsite).json()["scans"][0]["reported"] is True
    asked = client.post(f"{base}{number}/act/", {"act": "decide", "kind": "false_positive", "reason": "隔离网段的蜜罐"},
                        content_type="application/json", **tech)  # fmt: skip
    assert asked.status_code == 201
    approve = f"{base}decisions/{asked.json()['id']}/approve/"
    assert client.post(approve, **tech).status_code == 400  # the asker
    assert client.post(approve, **onsite).status_code == 403  # a site's post does not approve acceptances
    assert client.post(approve, **tech2).status_code == 200
    assert client.get(f"{base}?state=false_positive", **onsite).json()["total"] == 1


# -- the pages ------------------------------------------------------------------------------------------------


def test_the_pages_import_list_filter_and_approve_and_a_bad_file_lists_its_problems(world, people, client):
    from django.urls import reverse

    code = world.engagement.code
    client.force_login(people["tech"])
    page = reverse("risk:vuln_list", args=[code])
    scan = SimpleUploadedFile("月度.nessus", nessus(S(at(2026, 11, 2), {H1: "", H2: ""}, [SSH, TLS, SMB])))
    answer = client.post(page, {"file": scan, "format": "nessus"}, follow=True)
    assert (
        "已导入：新增 3 个，更新 0 个，未变 0 个，关闭 0 个。" in answer.content.decode()
    )  # the page speaks Chinese
    bad = "IP地址,漏洞名称,风险等级,CVE编号\n10.0.0.1,x,很高,CVE-2024-1\n".encode("gb18030")
    answer = client.post(page, {"file": SimpleUploadedFile("bad.csv", bad), "format": "csv",
                                "scanned_at": "2026-11-03 10:00"})  # fmt: skip
    text = answer.content.decode()
    assert answer.status_code == 200 and "第 2 行，风险等级" in text and "未写入任何数据" in text
    listed = client.get(page, {"severity": "critical"}).content.decode()
    assert "MS17-010" in listed and "TLS 1.0" not in listed
    number = Vulnerability.objects.get(port=445).number
    detail = reverse("risk:vuln_detail", args=[code, number])
    client.post(detail, {"act": "decide", "kind": "accept", "reason": "隔离网段，补丁窗口在下月",
                         "expires_on": (clock.now().date() + dt.timedelta(days=20)).isoformat()})  # fmt: skip
    decision = VulnDecision.objects.get()
    answer = client.post(detail, {"act": "approve", "decision": decision.pk}, follow=True)
    assert "既非申请人" in answer.content.decode() and VulnDecision.objects.get().approved_at is None
    client.force_login(people["tech2"])
    client.post(detail, {"act": "approve", "decision": decision.pk})
    assert VulnDecision.objects.get().approved_by.user == people["tech2"]
    assert 'data-state="accepted"' in client.get(page).content.decode()
    client.force_login(people["observer"])
    assert client.get(page).status_code == 403
