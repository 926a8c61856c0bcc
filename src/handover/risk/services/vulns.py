"""Writes of vulnerability management (三(四)一 漏洞管理; 三(七)二 行业通报 and 三(七)三 检查发现的问题 by hand).

An import is one transaction: the file is read whole first (risk/vulnfiles.py: any problem refuses it, naming
the place), then each finding is matched by its key — the host (the registers' asset when its name or address
matches one, else the address), the port and protocol, and the tool's check id or the public ids — never by its
wording, which changes between versions of a scanner. The same file twice is the same scan: nothing changes.

A finding's dates are a function of the scans on record, whatever the order they came in: ``first_seen`` /
``last_seen`` the earliest / latest scan that reported it, ``closed_at`` the earliest scan after ``last_seen``,
by one of the tools that reported it, that covered its host without reporting it. So a scan imported late
cannot reopen what a newer scan closed, and a newer scan that reports it again reopens it.

A person's decisions — the owner, an acceptance until a date, a false positive — are never touched by an import;
each is asked by one person and approved by another who is not the finding's owner (第八条)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.core.moments import moment_text
from handover.org import permissions as perms
from handover.org.models import Engagement, Person
from handover.registers.models import Asset
from handover.risk import events, vulnfiles
from handover.risk.models import (
    DecisionKind,
    Severity,
    Source,
    VulnDecision,
    Vulnerability,
    VulnScan,
    VulnScanHost,
    VulnSighting,
)
from handover.risk.services.common import allowed, person_of, same_side, who

COUNTS = ("created", "updated", "unchanged", "closed")
_CONTENT = ("title", "severity", "solution", "cves", "cnvd", "cnnvd", "port", "protocol", "ident")


@dataclass
class _Assets:
    """Host name or address (lower case) → the registers' asset, when exactly one asset of the engagement has it."""

    by_name: dict[str, Asset | None]

    @classmethod
    def of(cls, engagement: Engagement) -> _Assets:
        by_name: dict[str, Asset | None] = {}
        for asset in Asset.objects.filter(engagement=engagement).exclude(hostname=""):
            name = asset.hostname.strip().lower()
            by_name[name] = None if name in by_name else asset  # two sites, one name: ambiguous, not matched
        return cls(by_name)

    def resolve(self, address: str, hostname: str) -> tuple[str, Asset | None]:
        for name in (hostname, address, hostname.split(".")[0] if hostname else ""):
            asset = self.by_name.get(name.strip().lower()) if name else None
            if asset is not None:
                return asset.hostname, asset
        return address.strip().lower(), None


def _key(asset_key: str, port: int, protocol: str, ident: str) -> str:
    return f"{asset_key}|{port}/{protocol}|{ident}"[:400]


def _next_numbers(engagement: Engagement, count: int) -> list[str]:
    taken = Vulnerability.objects.filter(engagement=engagement).count()
    return [f"V{n:06d}" for n in range(taken + 1, taken + count + 1)]


def _closed_at(
    coverage: dict[str, list[tuple[str, dt.datetime, int]]],
    asset_key: str,
    scanners: set[str],
    last_seen: dt.datetime,
) -> tuple[dt.datetime | None, int | None]:
    """The earliest covering scan after ``last_seen`` by one of ``scanners`` (it cannot have reported the
    finding: ``last_seen`` is the latest that did)."""
    later = [
        (at, scan_id)
        for scanner, at, scan_id in coverage.get(asset_key, ())
        if scanner in scanners and at > last_seen
    ]
    if not later:
        return None, None
    at, scan_id = min(later)
    return at, scan_id


def vulns_import(
    *,
    actor: Actor,
    engagement: Engagement,
    fmt: str,
    filename: str,
    content: bytes,
    scanner: str = "",
    scanned_at: dt.datetime | None = None,
) -> dict[str, int]:
    """Import one scan file; returns how many findings were created, updated, unchanged and closed."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    digest = hashlib.sha256(content).hexdigest()
    known = VulnScan.objects.filter(engagement=engagement, sha256=digest).values_list(
        "finding_count", flat=True
    )
    if (count := known.first()) is not None:  # the same file again: the same scan, not read twice
        return {"created": 0, "updated": 0, "unchanged": count, "closed": 0}
    scan = vulnfiles.read(filename, content, fmt, scanner=scanner.strip().lower()[:40])
    when = scan.scanned_at or scanned_at
    if when is None:
        raise DomainError(
            _("%(file)s does not say when the scan ran: give the scan time (--scanned-at).")
            % {"file": filename},
            field="scanned_at",
        )
    if when > clock.now() + dt.timedelta(minutes=10):
        raise DomainError(
            _("%(file)s: the scan time %(at)s is in the future.")
            % {"file": filename, "at": moment_text(when)},
            field="scanned_at",
        )
    user, name = who(actor)
    assets = _Assets.of(engagement)
    resolved = {address: assets.resolve(address, hostname) for address, hostname in scan.hosts.items()}
    reported: dict[str, tuple[vulnfiles.Item, str, Asset | None]] = {}
    for item in scan.items:
        asset_key, asset = resolved.get(item.host) or assets.resolve(item.host, item.hostname)
        reported[_key(asset_key, item.port, item.protocol, item.ident(scan.scanner))] = (
            item,
            asset_key,
            asset,
        )
    covered = {asset_key for asset_key, _asset in resolved.values()} | {v[1] for v in reported.values()}
    counts = dict.fromkeys(COUNTS, 0)
    try:
        with transaction.atomic():
            record = VulnScan.objects.create(
                engagement=engagement, scanner=scan.scanner, filename=filename[:255], sha256=digest,
                scanned_at=when, host_count=len(covered), finding_count=len(reported),
                imported_by=user, imported_by_name=name,
            )  # fmt: skip
            VulnScanHost.objects.bulk_create(
                [VulnScanHost(scan=record, asset_key=k) for k in sorted(covered)]
            )
            coverage: dict[str, list[tuple[str, dt.datetime, int]]] = defaultdict(list)
            hosts = VulnScanHost.objects.filter(scan__engagement=engagement)
            for scanner_name, at, scan_id, asset_key in _among(hosts, covered).values_list(
                "scan__scanner", "scan__scanned_at", "scan_id", "asset_key"
            ):
                coverage[asset_key].append((scanner_name, at, scan_id))
            _apply(engagement, record, reported, covered, coverage, counts)
            event_record(actor=actor, action=events.VULN_IMPORT, engagement_id=engagement.pk, obj=record,
                         after={"file": record.filename, "scanner": record.scanner, "sha256": digest,
                                "scanned_at": when.isoformat(), "hosts": len(covered), **counts})  # fmt: skip
    except IntegrityError:
        if VulnScan.objects.filter(engagement=engagement, sha256=digest).exists():
            # The same file imported at the same moment by someone else: theirs is the scan.
            return {"created": 0, "updated": 0, "unchanged": len(reported), "closed": 0}
        raise DomainError(
            _("%(file)s: another import ran at the same time; nothing was written. Import it again.")
            % {"file": filename},
            field="file",
        ) from None
    return counts


def _among(found: QuerySet[Any], hosts: set[str]) -> QuerySet[Any]:
    """``found`` on these hosts by an IN list; for many hosts all of it (the callers look hosts up themselves):
    SQLite limits the variables of one statement."""
    return found.filter(asset_key__in=hosts) if len(hosts) <= 2000 else found


def _content(item: vulnfiles.Item) -> dict[str, Any]:
    return {
        "title": item.title, "severity": item.severity, "solution": item.solution, "cves": ",".join(item.cves),
        "cnvd": ",".join(item.cnvd), "cnnvd": ",".join(item.cnnvd), "port": item.port, "protocol": item.protocol,
    }  # fmt: skip


def _apply(
    engagement: Engagement,
    record: VulnScan,
    reported: dict[str, tuple[vulnfiles.Item, str, Asset | None]],
    covered: set[str],
    coverage: dict[str, list[tuple[str, dt.datetime, int]]],
    counts: dict[str, int],
) -> None:
    when, scanner = record.scanned_at, record.scanner
    existing = {
        v.key: v
        for v in _among(Vulnerability.objects.filter(engagement=engagement), covered).exclude(
            source__in=(Source.PENTEST, Source.INSPECTION, Source.BULLETIN)
        )
    }
    fresh: list[Vulnerability] = []
    changed: list[Vulnerability] = []
    reworded: set[int] = set()
    numbers = iter(_next_numbers(engagement, sum(1 for k in reported if k not in existing)))
    for key, (item, asset_key, asset) in reported.items():
        found = existing.get(key)
        if found is None:
            closed_at, closed_by = _closed_at(coverage, asset_key, {scanner}, when)
            fresh.append(Vulnerability(
                engagement=engagement, key=key, number=next(numbers), source=Source.SCAN, asset_key=asset_key,
                asset=asset, ident=item.ident(scanner)[:200], scanners=scanner, first_seen=when, last_seen=when,
                closed_at=closed_at, closed_by_scan_id=closed_by, **_content(item),
            ))  # fmt: skip
            counts["created"] += 1
            continue
        before = (found.first_seen, found.last_seen, found.closed_at, found.scanners,
                  tuple(getattr(found, f) for f in _CONTENT))  # fmt: skip
        scanners = set(filter(None, found.scanners.split(","))) | {scanner}
        if when >= found.last_seen:
            for name, value in _content(item).items():
                setattr(found, name, value)
        found.first_seen = min(found.first_seen, when)
        found.last_seen = max(found.last_seen, when)
        found.scanners = ",".join(sorted(scanners))[:200]
        was_open = found.closed_at is None
        found.closed_at, found.closed_by_scan_id = _closed_at(
            coverage, found.asset_key, scanners, found.last_seen
        )
        if found.asset_id is None and asset is not None:
            found.asset = asset
        after = (found.first_seen, found.last_seen, found.closed_at, found.scanners,
                 tuple(getattr(found, f) for f in _CONTENT))  # fmt: skip
        if after != before:
            changed.append(found)
            if after[4] != before[4]:
                reworded.add(found.pk)
            counts["closed" if was_open and found.closed_at is not None else "updated"] += 1
        else:
            counts["unchanged"] += 1
    for key, found in existing.items():
        if key in reported or scanner not in found.scanners.split(","):
            continue
        if found.asset_key in covered and when > found.last_seen:
            closed_at, closed_by = _closed_at(
                coverage, found.asset_key, set(found.scanners.split(",")), found.last_seen
            )
            if (closed_at, closed_by) != (found.closed_at, found.closed_by_scan_id):
                if found.closed_at is None:
                    counts["closed"] += 1
                found.closed_at, found.closed_by_scan_id = closed_at, closed_by
                changed.append(found)
    Vulnerability.objects.bulk_create(fresh, batch_size=2000)
    _save(changed, reworded)
    known = Vulnerability.objects.filter(engagement=engagement)
    # Few keys: an IN list; many: one pass over the engagement's keys (and SQLite's limit on variables).
    if len(reported) <= 2000:
        known = known.filter(key__in=list(reported))
    ids = dict(known.values_list("key", "pk"))
    VulnSighting.objects.bulk_create(
        [VulnSighting(vulnerability_id=ids[k], scan=record) for k in reported], batch_size=5000
    )


def _save(changed: list[Vulnerability], reworded: set[int]) -> None:
    """Write the changed findings: a new wording in bulk (rare); the dates, which a scan moves for most
    findings at once, as one UPDATE per distinct set of values (Django's bulk_update writes a CASE per field
    and row, which a 100,000-finding rescan cannot afford)."""
    Vulnerability.objects.bulk_update(
        [v for v in changed if v.pk in reworded],
        [*_CONTENT, "first_seen", "last_seen", "closed_at", "closed_by_scan", "scanners", "asset"],
        batch_size=500,
    )
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for v in changed:
        if v.pk not in reworded:
            groups[
                (v.first_seen, v.last_seen, v.closed_at, v.closed_by_scan_id, v.scanners, v.asset_id)
            ].append(v.pk)
    for (first_seen, last_seen, closed_at, closed_by, scanners, asset), pks in groups.items():
        for start in range(0, len(pks), 2000):
            Vulnerability.objects.filter(pk__in=pks[start : start + 2000]).update(
                first_seen=first_seen, last_seen=last_seen, closed_at=closed_at, closed_by_scan_id=closed_by,
                scanners=scanners, asset_id=asset,
            )  # fmt: skip


# -- recorded by hand ----------------------------------------------------------------------------------------


def vuln_record(
    *,
    actor: Actor,
    engagement: Engagement,
    source: str,
    title: str,
    severity: str,
    host: str,
    found_at: dt.datetime | None = None,
    port: int = 0,
    protocol: str = "",
    reference: str = "",
    solution: str = "",
) -> Vulnerability:
    """A finding from a penetration test, a supervisory inspection (三(七)三) or an industry bulletin (三(七)二).
    ``reference`` is the report's or bulletin's number, or CVE/CNVD/CNNVD ids; scans never close it: a fix
    recorded by one person and verified by another does."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    if source not in (Source.PENTEST, Source.INSPECTION, Source.BULLETIN):
        raise DomainError(_("A finding by hand comes from a penetration test, an inspection or a bulletin."),
                          field="source")  # fmt: skip
    if severity not in Severity.values:
        raise DomainError(_("Choose a severity."), field="severity")
    for field, value in (("title", title), ("host", host), ("reference", reference)):
        if not (value or "").strip():
            raise DomainError(_("This field is required."), field=field)
    if not 0 <= int(port) <= 65535:
        raise DomainError(_("A port is a number from 0 to 65535."), field="port")
    at = found_at or clock.now()
    if at > clock.now() + dt.timedelta(minutes=10):
        raise DomainError(_("A finding is recorded once it was found, not before."), field="found_at")
    asset_key, asset = _Assets.of(engagement).resolve(host, "")
    ident = f"{source}:{reference.strip()}"[:200]
    cves, cnvd, cnnvd = vulnfiles.public_ids(" ".join([reference, solution]))
    with transaction.atomic():
        try:
            with transaction.atomic():
                found = Vulnerability.objects.create(
                    engagement=engagement, key=_key(asset_key, int(port), protocol.strip().lower(), ident),
                    number=_next_numbers(engagement, 1)[0], source=source, asset_key=asset_key, asset=asset,
                    port=int(port), protocol=protocol.strip().lower()[:10], ident=ident, title=title.strip()[:300],
                    severity=severity, solution=solution, first_seen=at, last_seen=at,
                    cves=",".join(cves), cnvd=",".join(cnvd), cnnvd=",".join(cnnvd),
                )  # fmt: skip
        except IntegrityError:
            raise DomainError(
                _("%(ref)s on %(host)s is recorded already.") % {"ref": reference, "host": asset_key},
                field="reference",
            ) from None
        after = {"number": found.number, "source": source, "key": found.key, "severity": severity}
        event_record(
            actor=actor, action=events.VULN_RECORD, engagement_id=engagement.pk, obj=found, after=after
        )
    return found


def vuln_assign(*, actor: Actor, vulnerability: Vulnerability, owner: Person) -> Vulnerability:
    engagement = vulnerability.engagement
    allowed(actor, engagement, perms.MANAGE_RISK)
    if owner.engagement_id != engagement.pk or not owner.is_active:
        raise DomainError(_("The owner must be a person of this engagement."), field="owner")
    with transaction.atomic():
        before = vulnerability.owner_id
        vulnerability.owner = owner
        vulnerability.save(update_fields=["owner"])
        event_record(actor=actor, action=events.VULN_ASSIGN, engagement_id=engagement.pk, obj=vulnerability,
                     before={"owner": before}, after={"owner": owner.pk})  # fmt: skip
    return vulnerability


def vuln_fix(*, actor: Actor, vulnerability: Vulnerability, note: str) -> Vulnerability:
    """Record the fix of a finding recorded by hand; it closes when another person verifies it."""
    engagement = vulnerability.engagement
    allowed(actor, engagement, perms.MANAGE_RISK)
    person = person_of(actor, engagement)
    if vulnerability.source == Source.SCAN:
        raise DomainError(_("A scanned finding closes when a later scan no longer reports it; scan again."),
                          field="vulnerability")  # fmt: skip
    if not (note or "").strip():
        raise DomainError(_("Say what was done."), field="note")
    if vulnerability.closed_at is not None:
        raise DomainError(_("The finding is closed already."), field="vulnerability")
    with transaction.atomic():
        vulnerability.fixed_by, vulnerability.fixed_at, vulnerability.fix_note = (
            person,
            clock.now(),
            note.strip(),
        )
        vulnerability.verified_by = None
        vulnerability.save(update_fields=["fixed_by", "fixed_at", "fix_note", "verified_by"])
        event_record(actor=actor, action=events.VULN_FIX, engagement_id=engagement.pk, obj=vulnerability,
                     after={"number": vulnerability.number, "fixed_by": person.pk})  # fmt: skip
    return vulnerability


def vuln_verify(*, actor: Actor, vulnerability: Vulnerability) -> Vulnerability:
    """A second person confirms the fix (第八条): the finding closes."""
    engagement = vulnerability.engagement
    allowed(actor, engagement, perms.MANAGE_RISK)
    person = person_of(actor, engagement)
    if vulnerability.fixed_by_id is None:
        raise DomainError(_("No fix is recorded to verify."), field="vulnerability")
    if person.pk == vulnerability.fixed_by_id or same_side(actor, vulnerability.fixed_by):
        raise DomainError(_("The fix is verified by another person than the one who recorded it (第八条)."),
                          field="actor")  # fmt: skip
    with transaction.atomic():
        vulnerability.verified_by, vulnerability.closed_at = person, clock.now()
        vulnerability.save(update_fields=["verified_by", "closed_at"])
        event_record(actor=actor, action=events.VULN_VERIFY, engagement_id=engagement.pk, obj=vulnerability,
                     after={"number": vulnerability.number, "verified_by": person.pk})  # fmt: skip
    return vulnerability


# -- decisions -----------------------------------------------------------------------------------------------


def decision_request(
    *, actor: Actor, vulnerability: Vulnerability, kind: str, reason: str, expires_on: dt.date | None = None
) -> VulnDecision:
    """Ask to accept the finding until ``expires_on`` or to call it a false positive; another person approves."""
    engagement = vulnerability.engagement
    allowed(actor, engagement, perms.MANAGE_RISK)
    person = person_of(actor, engagement)
    if kind not in DecisionKind.values:
        raise DomainError(_("Choose accept or false positive."), field="kind")
    if not (reason or "").strip():
        raise DomainError(_("Give the reason."), field="reason")
    today = clock.now().date()
    if kind == DecisionKind.ACCEPT and (expires_on is None or expires_on <= today):
        raise DomainError(_("An acceptance ends on a date after today."), field="expires_on")
    with transaction.atomic():
        decision = VulnDecision.objects.create(
            vulnerability=vulnerability, kind=kind, reason=reason.strip(), owner_id=vulnerability.owner_id,
            expires_on=expires_on if kind == DecisionKind.ACCEPT else None, requested_by=person,
        )  # fmt: skip
        event_record(actor=actor, action=events.VULN_DECISION_REQUEST, engagement_id=engagement.pk, obj=decision,
                     after={"number": vulnerability.number, "kind": kind,
                            "expires_on": expires_on.isoformat() if expires_on else None})  # fmt: skip
    return decision


def decision_approve(*, actor: Actor, decision: VulnDecision) -> VulnDecision:
    vulnerability = decision.vulnerability
    engagement = vulnerability.engagement
    allowed(actor, engagement, perms.ACCEPT_RISK)
    person = person_of(actor, engagement)
    if decision.approved_at is not None:
        raise DomainError(_("This decision is approved already."), field="decision")
    if person.pk in (decision.requested_by_id, decision.owner_id) or any(
        same_side(actor, p) for p in (decision.requested_by, decision.owner)
    ):
        raise DomainError(
            _("Approved by a person who neither asked for it nor owns the finding (第八条)."), field="actor"
        )
    with transaction.atomic():
        decision.approved_by, decision.approved_at = person, clock.now()
        decision.save(update_fields=["approved_by", "approved_at"])
        event_record(actor=actor, action=events.VULN_DECISION_APPROVE, engagement_id=engagement.pk, obj=decision,
                     after={"number": vulnerability.number, "kind": decision.kind})  # fmt: skip
    return decision


def last_scan_at(engagement: Engagement) -> dt.datetime | None:
    return VulnScan.objects.filter(engagement=engagement).aggregate(at=Max("scanned_at"))["at"]
