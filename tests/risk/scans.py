"""Scan files as the tools write them, built from a few facts: Nessus ``.nessus`` v2 (the element and attribute
names of Tenable's format: ReportHost, HostProperties tags, ReportItem port/protocol/severity/pluginID),
Nessus CSV (one row per CVE), OpenVAS/GVM report XML (report/host/ip, results/result with host, port, nvt oid,
severity), and a firm's own CSV with Chinese headers in GB18030."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

LEVELS = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
SCORES = {"info": "0.0", "low": "2.6", "medium": "5.0", "high": "7.5", "critical": "9.8"}


@dataclass(frozen=True)
class F:
    """One finding: host address, port, check id, severity, name, CVEs."""

    host: str
    port: int
    plugin: str
    severity: str = "high"
    name: str = "OpenSSH < 9.3 多个漏洞"
    cves: tuple[str, ...] = ()
    protocol: str = "tcp"


@dataclass
class S:
    """A scan: when it started, the hosts it covered (with names), and its findings."""

    at: dt.datetime
    hosts: dict[str, str]
    findings: list[F] = field(default_factory=list)


def nessus(scan: S) -> bytes:
    parts = [
        '<?xml version="1.0" ?>\n<NessusClientData_v2><Policy><policyName>月度</policyName></Policy>',
        '<Report name="营业部月度扫描" xmlns:cm="http://www.nessus.org/cm">',
    ]
    stamp = int(scan.at.timestamp())
    for address, name in scan.hosts.items():
        parts.append(f"<ReportHost name={quoteattr(address)}><HostProperties>")
        parts.append(f'<tag name="HOST_START_TIMESTAMP">{stamp}</tag><tag name="host-ip">{address}</tag>')
        if name:
            parts.append(f'<tag name="host-fqdn">{escape(name)}</tag>')
        parts.append("</HostProperties>")
        parts.append(
            '<ReportItem port="0" svc_name="general" protocol="tcp" severity="0" pluginID="19506" '
            'pluginName="Nessus Scan Information" pluginFamily="Settings"><risk_factor>None</risk_factor>'
            "</ReportItem>"
        )
        for f in (f for f in scan.findings if f.host == address):
            parts.append(
                f'<ReportItem port="{f.port}" svc_name="ssh" protocol="{f.protocol}" severity="{LEVELS[f.severity]}" '
                f'pluginID={quoteattr(f.plugin)} pluginName={quoteattr(f.name)} pluginFamily="General">'
                f"<risk_factor>{f.severity.title()}</risk_factor><solution>升级到最新版本。</solution>"
                + "".join(f"<cve>{c}</cve>" for c in f.cves)
                + "<xref>CNVD:CNVD-2023-12345</xref></ReportItem>"
            )
        parts.append("</ReportHost>")
    parts.append("</Report></NessusClientData_v2>")
    return "".join(parts).encode()


def nessus_csv(scan: S) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "Plugin ID",
            "CVE",
            "CVSS v2.0 Base Score",
            "Risk",
            "Host",
            "Protocol",
            "Port",
            "Name",
            "Synopsis",
            "Description",
            "Solution",
            "See Also",
            "Plugin Output",
        ]
    )
    for f in scan.findings:
        for cve in f.cves or ("",):
            writer.writerow(
                [
                    f.plugin,
                    cve,
                    SCORES[f.severity],
                    "None" if f.severity == "info" else f.severity.title(),
                    f.host,
                    f.protocol,
                    f.port,
                    f.name,
                    "",
                    "",
                    "升级到最新版本。",
                    "",
                    "",
                ]
            )
    return out.getvalue().encode()


def openvas(scan: S) -> bytes:
    parts = [
        '<report id="r1" format_id="a994b278" extension="xml" content_type="text/xml">',
        f'<report id="r1"><scan_start>{scan.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}</scan_start>',
    ]
    for address, name in scan.hosts.items():
        detail = f"<detail><name>hostname</name><value>{escape(name)}</value></detail>" if name else ""
        parts.append(f"<host><ip>{address}</ip>{detail}</host>")
    parts.append("<results>")
    for n, f in enumerate(scan.findings):
        refs = "".join(f'<ref type="cve" id="{c}"/>' for c in f.cves)
        parts.append(
            f'<result id="res{n}"><name>{escape(f.name)}</name><host>{f.host}<asset asset_id="a{n}"/>'
            f"<hostname>{escape(scan.hosts.get(f.host, ''))}</hostname></host><port>{f.port}/{f.protocol}</port>"
            f'<nvt oid="{f.plugin}"><name>{escape(f.name)}</name><cvss_base>{SCORES[f.severity]}</cvss_base>'
            f'<refs>{refs}</refs><solution type="VendorFix">升级。</solution></nvt>'
            f"<threat>{'Log' if f.severity == 'info' else f.severity.title()}</threat>"
            f"<severity>{SCORES[f.severity]}</severity></result>"
        )
    parts.append("</results></report></report>")
    return "".join(parts).encode()


CHINESE_LEVELS = {"critical": "紧急", "high": "高危", "medium": "中危", "low": "低危", "info": "信息"}


def chinese_csv(scan: S, *, encoding: str = "gb18030") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "序号",
            "IP地址",
            "主机名",
            "端口",
            "协议",
            "漏洞名称",
            "风险等级",
            "CVE编号",
            "插件ID",
            "解决方案",
            "扫描时间",
        ]
    )
    when = scan.at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")
    for n, f in enumerate(scan.findings, 1):
        writer.writerow(
            [
                n,
                f.host,
                scan.hosts.get(f.host, ""),
                f.port,
                f.protocol,
                f.name,
                CHINESE_LEVELS[f.severity],
                ";".join(f.cves),
                f.plugin,
                "升级到厂商最新版本",
                when,
            ]
        )
    return out.getvalue().encode(encoding)
