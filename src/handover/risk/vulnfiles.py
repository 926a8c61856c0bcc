"""Reading vulnerability scans (三(四)一 漏洞管理, 三(七)三 检查发现的问题): Nessus ``.nessus`` v2 XML, Nessus CSV,
OpenVAS/GVM report XML, and a generic CSV or xlsx with Chinese or English headers (GB18030 or UTF-8).

This module reads and refuses; it writes nothing. A file is taken whole or not at all: every problem is
listed with its place (the file, the row and column, or the XML element) and the import stops. XML goes
through defusedxml (no entities, no external references: no billion laughs), and the file's size is bounded
like every import's (``HANDOVER_IMPORT_MAX_BYTES``).

What a scan says is reduced to :class:`Item` (one finding on one host and port) and the hosts the scan
covered (every host it reports, with or without findings): a finding closes only when a later scan of the same
tool covered its host and no longer reports it (risk/services/vulns.py).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeTree
from django.utils.translation import gettext as _

from handover.core.errors import DomainError
from handover.registers.io.reading import Bounds, max_bytes, read_table

FORMATS = ("nessus", "openvas", "csv")
SEVERITIES = ("critical", "high", "medium", "low")  # "info" is read for coverage, never kept as a finding
MAX_FINDINGS = 200_000
_CVE = re.compile(r"CVE-\d{4}-\d{4,7}", re.I)
_CNVD = re.compile(r"CNVD-\d{4}-\d{3,6}", re.I)
_CNNVD = re.compile(r"CNNVD-\d{6}-\d{1,6}", re.I)


@dataclass(frozen=True)
class Item:
    """One finding: a host (as the scan names it), its port and protocol (0 and "" for the host itself), the
    tool's own id of the check (``plugin``) and the public ids; never keyed by free text."""

    host: str
    hostname: str
    port: int
    protocol: str
    plugin: str
    cves: tuple[str, ...]
    cnvd: tuple[str, ...]
    cnnvd: tuple[str, ...]
    title: str
    severity: str
    solution: str
    place: str

    def ident(self, scanner: str) -> str:
        """What the finding is, independent of its wording: the tool's check id, else the public ids."""
        if self.plugin:
            return f"{scanner}:{self.plugin}"
        for prefix, ids in (("cve", self.cves), ("cnvd", self.cnvd), ("cnnvd", self.cnnvd)):
            if ids:
                return f"{prefix}:{','.join(sorted(ids))}"
        return ""


@dataclass
class Scan:
    scanner: str
    scanned_at: dt.datetime | None
    hosts: dict[str, str] = field(default_factory=dict)  # address → host name (may be "")
    items: list[Item] = field(default_factory=list)


class ScanRefused(DomainError):
    """The file cannot be imported; ``problems`` lists (place, reason) for the page and the CLI."""

    def __init__(self, filename: str, problems: list[tuple[str, str]]) -> None:
        first = "; ".join(_("%(place)s: %(reason)s") % {"place": p, "reason": r} for p, r in problems[:5])
        more = len(problems) - 5
        message = _("%(file)s was not imported; nothing was written: %(first)s") % {
            "file": filename,
            "first": first,
        }
        if more > 0:
            message += " " + _("… and %(n)d more.") % {"n": more}
        super().__init__(message, field="file")
        self.problems = problems


def read(filename: str, content: bytes, fmt: str, *, scanner: str = "") -> Scan:
    """The scan in ``content``; ``fmt`` is one of :data:`FORMATS`. ``scanner`` names the tool of a generic
    CSV (a Nessus CSV is recognised by its headers and is ``nessus``)."""
    if fmt not in FORMATS:
        raise DomainError(
            _("Unknown format %(fmt)s; use one of %(formats)s.")
            % {"fmt": fmt, "formats": ", ".join(FORMATS)},
            field="format",
        )
    if len(content) > max_bytes():
        raise DomainError(
            _("%(file)s is larger than %(mb)d MB; split the scan.")
            % {"file": filename, "mb": max_bytes() >> 20},
            field="file",
        )
    if fmt == "csv":
        return _table(filename, content, scanner)
    root = _xml(filename, content)
    return _nessus(filename, root) if fmt == "nessus" else _openvas(filename, root)


def _xml(filename: str, content: bytes) -> Element:
    try:
        return SafeTree.fromstring(content, forbid_dtd=True)
    except DefusedXmlException as exc:
        reason = _("the XML declares entities or a DTD (%(what)s); a scanner's export has none.")
        raise ScanRefused(filename, [(filename, reason % {"what": type(exc).__name__})]) from None
    except SafeTree.ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise ScanRefused(
            filename,
            [(_("line %(line)d, column %(column)d") % {"line": line, "column": column},
              _("not well-formed XML (the file may be cut short); export the scan again."))],
        ) from None  # fmt: skip


def _severity_of_number(value: float) -> str:
    """CVSS-like score → level (GVM's classes: ≥9 critical, ≥7 high, ≥4 medium, >0 low, 0 log)."""
    if value >= 9:
        return "critical"
    if value >= 7:
        return "high"
    if value >= 4:
        return "medium"
    return "low" if value > 0 else "info"


_WORDS = {
    "critical": "critical", "紧急": "critical", "严重": "critical", "超危": "critical",
    "high": "high", "高": "high", "高危": "high", "高风险": "high",
    "medium": "medium", "moderate": "medium", "中": "medium", "中危": "medium", "中风险": "medium",
    "low": "low", "低": "low", "低危": "low", "低风险": "low",
    "none": "info", "info": "info", "informational": "info", "log": "info", "信息": "info", "提示": "info",
    "无": "info", "false positive": "info",
}  # fmt: skip


def _severity(text: str) -> str | None:
    word = (text or "").strip().lower()
    if word in _WORDS:
        return _WORDS[word]
    try:
        return _severity_of_number(float(word))
    except ValueError:
        return None


def _ids(pattern: re.Pattern[str], *texts: str) -> tuple[str, ...]:
    return tuple(sorted({m.upper() for text in texts for m in pattern.findall(text or "")}))


def public_ids(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The CVE, CNVD and CNNVD ids written in ``text``."""
    return _ids(_CVE, text), _ids(_CNVD, text), _ids(_CNNVD, text)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


# -- Nessus v2 -----------------------------------------------------------------------------------------------

_NESSUS_LEVELS = {"0": "info", "1": "low", "2": "medium", "3": "high", "4": "critical"}


def _nessus_time(tags: dict[str, str]) -> dt.datetime | None:
    stamp = tags.get("HOST_START_TIMESTAMP") or ""
    if stamp.isdigit():
        return dt.datetime.fromtimestamp(int(stamp), tz=dt.UTC)
    text = " ".join((tags.get("HOST_START") or "").split())
    try:
        return dt.datetime.strptime(text, "%a %b %d %H:%M:%S %Y").replace(tzinfo=dt.UTC) if text else None
    except ValueError:
        return None


def _nessus(filename: str, root: Element) -> Scan:
    if _local(root.tag) != "NessusClientData_v2":
        reason = _("not a Nessus v2 file (its root element is NessusClientData_v2); export as .nessus.")
        raise ScanRefused(filename, [(f"<{_local(root.tag)}>", reason)])
    scan = Scan("nessus", None)
    problems: list[tuple[str, str]] = []
    starts: list[dt.datetime] = []
    for n, host in enumerate(root.iter("ReportHost"), 1):
        tags = {t.get("name", ""): (t.text or "").strip() for t in host.iter("tag")}
        address = tags.get("host-ip") or host.get("name", "")
        place_host = f"ReportHost {n} ({address or '?'})"
        if not address:
            problems.append((place_host, _("the host has no name or host-ip.")))
            continue
        name = tags.get("host-fqdn") or tags.get("netbios-name") or ""
        scan.hosts[address] = name
        if (start := _nessus_time(tags)) is not None:
            starts.append(start)
        for m, item in enumerate(host.iter("ReportItem"), 1):
            place = f"{place_host} ReportItem {m}"
            level = _NESSUS_LEVELS.get(item.get("severity", ""))
            if level is None:
                problems.append(
                    (place, _("severity %(value)r is not 0–4.") % {"value": item.get("severity")})
                )
                continue
            if level == "info":
                continue
            port = item.get("port", "0")
            if not port.isdigit() or int(port) > 65535:
                problems.append(
                    (place, _("port %(value)r is not a number from 0 to 65535.") % {"value": port})
                )
                continue
            texts = [c.text or "" for c in item if c.tag in ("cve", "xref")]
            plugin = item.get("pluginID", "")
            if not plugin:
                problems.append((place, _("the item has no pluginID.")))
                continue
            scan.items.append(Item(
                host=address, hostname=name, port=int(port), protocol=item.get("protocol", "").lower(),
                plugin=plugin, cves=_ids(_CVE, *texts), cnvd=_ids(_CNVD, *texts), cnnvd=_ids(_CNNVD, *texts),
                title=(item.get("pluginName") or item.findtext("plugin_name") or "")[:300],
                severity=level, solution=(item.findtext("solution") or "").strip()[:4000], place=place,
            ))  # fmt: skip
            if len(scan.items) > MAX_FINDINGS:
                raise ScanRefused(filename, [(place, _("more than %(n)d findings; split the scan.")
                                              % {"n": MAX_FINDINGS})])  # fmt: skip
    if problems:
        raise ScanRefused(filename, problems)
    scan.scanned_at = min(starts) if starts else None
    return scan


# -- OpenVAS / GVM ---------------------------------------------------------------------------------------------


def _openvas(filename: str, root: Element) -> Scan:
    if _local(root.tag) not in ("report", "get_reports_response"):
        raise ScanRefused(filename, [(f"<{_local(root.tag)}>", _("not an OpenVAS/GVM report (its root element is "
                                                                 "report); download the report as XML."))])  # fmt: skip
    report = root
    while (inner := report.find("report")) is not None:  # <get_reports_response><report><report>
        report = inner
    scan = Scan("openvas", None)
    problems: list[tuple[str, str]] = []
    start = (report.findtext("scan_start") or "").strip()
    if start:
        try:
            scan.scanned_at = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            problems.append(("<scan_start>", _("%(value)r is not an ISO time.") % {"value": start}))
    for host in report.findall("host"):
        address = (host.findtext("ip") or "").strip()
        if address:
            names = [
                d.findtext("value") or "" for d in host.findall("detail") if d.findtext("name") == "hostname"
            ]
            scan.hosts[address] = names[0].strip() if names else ""
    results = report.find("results")
    for n, result in enumerate(results.findall("result") if results is not None else [], 1):
        place = f"result {n}"
        host_el = result.find("host")
        address = ((host_el.text or "") if host_el is not None else "").strip()
        if not address:
            problems.append((place, _("the result names no host.")))
            continue
        hostname = (host_el.findtext("hostname") or "").strip() if host_el is not None else ""
        scan.hosts.setdefault(address, hostname)
        severity_text = (result.findtext("severity") or "").strip()
        level = _severity(severity_text) if severity_text else _severity(result.findtext("threat") or "")
        if level is None:
            problems.append((place, _("severity %(value)r is neither a score nor High/Medium/Low/Log.")
                             % {"value": severity_text or result.findtext("threat")}))  # fmt: skip
            continue
        if level == "info":
            continue
        port_text = (result.findtext("port") or "").strip()
        number, _slash, protocol = port_text.partition("/")
        port = int(number) if number.isdigit() and int(number) <= 65535 else 0  # "general/tcp" → the host
        nvt = result.find("nvt")
        oid = nvt.get("oid", "") if nvt is not None else ""
        if not oid:
            problems.append((place, _("the result has no NVT oid.")))
            continue
        refs = [r.get("id", "") for r in nvt.iter("ref")] if nvt is not None else []
        cve_text = (nvt.findtext("cve") or "") if nvt is not None else ""
        scan.items.append(Item(
            host=address, hostname=hostname, port=port, protocol=protocol.lower(), plugin=oid,
            cves=_ids(_CVE, cve_text, *refs), cnvd=_ids(_CNVD, *refs), cnnvd=_ids(_CNNVD, *refs),
            title=(result.findtext("name") or (nvt.findtext("name") if nvt is not None else "") or "")[:300],
            severity=level, solution=((nvt.findtext("solution") if nvt is not None else "") or "").strip()[:4000],
            place=place,
        ))  # fmt: skip
        if len(scan.items) > MAX_FINDINGS:
            raise ScanRefused(
                filename, [(place, _("more than %(n)d findings; split the scan.") % {"n": MAX_FINDINGS})]
            )
    if problems:
        raise ScanRefused(filename, problems)
    return scan


# -- CSV / xlsx --------------------------------------------------------------------------------------------------

# Header → field. Chinese names as 绿盟/启明/安恒 exports and firms' own sheets write them, and Nessus CSV's.
HEADERS: dict[str, str] = {
    **dict.fromkeys(("host", "ip", "ip地址", "主机", "主机地址", "资产", "资产ip", "目标", "ip address"), "host"),
    **dict.fromkeys(("hostname", "主机名", "主机名称", "dns name", "netbios name"), "hostname"),
    **dict.fromkeys(("port", "端口"), "port"),
    **dict.fromkeys(("protocol", "协议"), "protocol"),
    **dict.fromkeys(("name", "漏洞名称", "名称", "漏洞", "vulnerability", "title"), "title"),
    **dict.fromkeys(
        ("risk", "severity", "风险等级", "危险等级", "风险", "等级", "威胁", "威胁等级", "漏洞等级"), "severity"
    ),
    **dict.fromkeys(("cve", "cve编号", "cve id", "cves"), "cves"),
    **dict.fromkeys(("cnvd", "cnvd编号"), "cnvd"),
    **dict.fromkeys(("cnnvd", "cnnvd编号"), "cnnvd"),
    **dict.fromkeys(("plugin id", "pluginid", "插件id", "漏洞id", "nvt oid", "规则id", "检测项id"), "plugin"),
    **dict.fromkeys(("solution", "解决方案", "解决办法", "修复建议", "整改建议"), "solution"),
    **dict.fromkeys(("扫描时间", "scan time", "检测时间"), "scanned_at"),
}  # fmt: skip
REQUIRED = ("host", "title", "severity")
_NESSUS_CSV = {"plugin id", "risk", "host", "name"}


def _at(row: int, column: str = "") -> str:
    """The place of a cell as the page and the CLI name it: 第 3 行，端口 / row 3, 端口."""
    if not column:
        return _("row %(row)d") % {"row": row}
    return _("row %(row)d, %(column)s") % {"row": row, "column": column}


def _header(cell: Any) -> str:
    return " ".join(str(cell or "").replace("\u3000", " ").split()).lower()


def _table(filename: str, content: bytes, scanner: str) -> Scan:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        filename = f"{filename}.csv" if not suffix else filename
    rows = read_table(filename, content, bounds=Bounds(columns=40, max_rows=MAX_FINDINGS))
    head = next((i for i, row in enumerate(rows[:20]) if sum(_header(c) in HEADERS for c in row) >= 3), None)
    if head is None:
        raise ScanRefused(filename, [(_at(1), _("no header row found: name the columns %(names)s (for example "
                                                     "主机, 漏洞名称, 风险等级, CVE, 插件ID, 端口, 解决方案).")
                                      % {"names": " / ".join(REQUIRED)})])  # fmt: skip
    headers = [_header(c) for c in rows[head]]
    columns: dict[str, int] = {}
    for index, name in enumerate(headers):
        if name in HEADERS:
            columns.setdefault(HEADERS[name], index)
    missing = [name for name in REQUIRED if name not in columns]
    if not any(k in columns for k in ("plugin", "cves", "cnvd", "cnnvd")):
        missing.append("插件ID / CVE / CNVD / CNNVD")
    if missing:
        raise ScanRefused(filename, [(_at(head + 1),
                                      _("missing columns: %(names)s.") % {"names": ", ".join(missing)})])  # fmt: skip
    if not scanner:
        scanner = "nessus" if set(headers) >= _NESSUS_CSV else "csv"
    scan = Scan(scanner, None)
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[str, int, str, str], int] = {}
    times: list[dt.datetime] = []

    def cell(row: list[Any], name: str) -> str:
        index = columns.get(name)
        return (
            str(row[index]).strip()
            if index is not None and index < len(row) and row[index] is not None
            else ""
        )

    for number, row in enumerate(rows[head + 1 :], head + 2):
        if not any(str(c or "").strip() for c in row):
            continue
        place = _at(number)
        host = cell(row, "host")
        if not host:
            problems.append((_at(number, headers[columns["host"]]), _("the host is empty.")))
            continue
        scan.hosts.setdefault(host, cell(row, "hostname"))
        level = _severity(cell(row, "severity"))
        if level is None:
            problems.append((_at(number, headers[columns["severity"]]),
                             _("%(value)r is not a level: use 紧急/高/中/低/信息 or Critical/High/Medium/Low/None.")
                             % {"value": cell(row, "severity")}))  # fmt: skip
            continue
        if (when := cell(row, "scanned_at")) and "scanned_at" in columns:
            try:
                stamp = dt.datetime.fromisoformat(when)
                times.append(
                    stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
                )
            except ValueError:
                problems.append((_at(number, headers[columns["scanned_at"]]),
                                 _("%(value)r is not a time such as 2026-12-05 10:30.") % {"value": when}))  # fmt: skip
                continue
        if level == "info":
            continue
        port_text, _slash, protocol = cell(row, "port").partition("/")
        port_text = port_text.removesuffix(".0")
        if port_text and not (port_text.isdigit() and int(port_text) <= 65535):
            problems.append((_at(number, headers[columns["port"]]),
                             _("%(value)r is not a port from 0 to 65535.") % {"value": cell(row, "port")}))  # fmt: skip
            continue
        plugin = cell(row, "plugin").removesuffix(".0")
        item = Item(
            host=host, hostname=cell(row, "hostname"), port=int(port_text or 0),
            protocol=(cell(row, "protocol") or protocol).lower(), plugin=plugin,
            cves=_ids(_CVE, cell(row, "cves")), cnvd=_ids(_CNVD, cell(row, "cnvd")),
            cnnvd=_ids(_CNNVD, cell(row, "cnnvd")), title=cell(row, "title")[:300], severity=level,
            solution=cell(row, "solution")[:4000], place=place,
        )  # fmt: skip
        if not item.ident(scanner):
            problems.append((place, _("no 插件ID, CVE, CNVD or CNNVD: a finding is known by its id, never by its "
                                      "wording. Fill one of them.")))  # fmt: skip
            continue
        if not item.title:
            problems.append((_at(number, headers[columns["title"]]), _("the name is empty.")))
            continue
        # Nessus CSV repeats a finding once per CVE: the rows of one check on one port are one finding.
        merge = (item.host, item.port, item.protocol, item.plugin) if item.plugin else None
        if merge is not None and merge in seen:
            before = scan.items[seen[merge]]
            scan.items[seen[merge]] = Item(**{**before.__dict__, "cves": tuple(sorted({*before.cves, *item.cves})),
                                              "cnvd": tuple(sorted({*before.cnvd, *item.cnvd})),
                                              "cnnvd": tuple(sorted({*before.cnnvd, *item.cnnvd}))})  # fmt: skip
            continue
        if merge is not None:
            seen[merge] = len(scan.items)
        scan.items.append(item)
    if problems:
        raise ScanRefused(filename, problems)
    scan.scanned_at = min(times) if times else None
    return scan
