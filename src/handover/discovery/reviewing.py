"""Running the review rules on the engagement's current inventories and keeping their findings.

The context is the registers': people with their leave dates (表5's staff, the person entity), their known
logins (accounts whose owner they are), the accounts 表10 says were changed, D (the engagement's disposal
date) and today. A finding is kept
across runs by (target, rule, account): a re-run refreshes its detail and ``last_seen``, marks it resolved
when the rule no longer holds, and never touches a person's decision.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Any

from django.utils import timezone

from handover.connectors import findings as engine
from handover.connectors.model import Inventory
from handover.discovery import engine as connectors
from handover.discovery.models import Finding, Snapshot, Target
from handover.discovery.store import inventory_read
from handover.org.models import Employment, Engagement, Person
from handover.registers.definitions.common import TRADING_CATEGORIES
from handover.registers.models import Account, Asset, InformationSystem, Row

TRADING = TRADING_CATEGORIES


def context_for(engagement: Engagement) -> engine.ReviewContext:
    """What the rules need besides the inventories (第二十五条第3项: staff who left, with their dates)."""
    logins: dict[int, list[str]] = defaultdict(list)
    for owner_id, login in Account.objects.filter(engagement=engagement, owner__isnull=False).values_list(
        "owner_id", "login_name"
    ):
        logins[owner_id].append(login)
    people = tuple(
        engine.Person(
            name=p.name,
            left_on=p.leave_date if p.employment == Employment.LEFT else None,
            usernames=tuple(sorted(logins.get(p.pk, []))),
        )
        for p in Person.objects.filter(engagement=engagement, is_active=True).order_by("pk")
    )
    return engine.ReviewContext(
        today=timezone.localdate(),
        disposal_day=engagement.disposal_date,
        people=people,
        changed_on_form10=changed_on_form10(engagement),
    )


def changed_on_form10(engagement: Engagement) -> tuple[tuple[str, str, str], ...]:
    """(system, host, account) of every current 表10 row that says the password was changed (已修改确认):
    第二十六条第2项. The rules compare it with what the hosts show (a password said changed but older than D)."""
    rows = Row.objects.filter(form__engagement=engagement, form__register_no=10, is_current=True).values_list(
        "data", flat=True
    )
    wanted = [d for d in rows if d.get("secret_changed") is True]
    ids = {k: {_as_int(d.get(f"{k}_id")) for d in wanted} - {None} for k in ("system", "asset", "account")}
    systems = dict(InformationSystem.objects.filter(pk__in=ids["system"]).values_list("pk", "name"))
    hosts = {
        pk: hostname or name
        for pk, hostname, name in Asset.objects.filter(pk__in=ids["asset"]).values_list(
            "pk", "hostname", "name"
        )
    }
    logins = dict(Account.objects.filter(pk__in=ids["account"]).values_list("pk", "login_name"))
    out = set()
    for d in wanted:
        system, host, login = (
            systems.get(_as_int(d.get("system_id"))),  # type: ignore[arg-type]
            hosts.get(_as_int(d.get("asset_id"))),  # type: ignore[arg-type]
            logins.get(_as_int(d.get("account_id"))),  # type: ignore[arg-type]
        )
        if system and login:
            out.add((system, host or "", login))
    return tuple(sorted(out))


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def ref_of(target: Target) -> engine.SystemRef:
    return engine.SystemRef(
        system=target.system.name,
        host=target.asset.hostname or target.asset.name,
        site=target.site.code,
        trading=target.system.category in TRADING,
    )


def review_engagement(engagement: Engagement) -> tuple[dict[int, Inventory], dict[int, list[Finding]]] | None:
    """Review every current inventory of the engagement; the stored findings per target (None: no rules)."""
    snapshots = list(
        Snapshot.objects.filter(target__engagement=engagement, is_current=True).select_related(
            "target__system", "target__asset", "target__site"
        )
    )
    inventories = {s.target_id: inventory_read(s) for s in snapshots}
    targets = {s.target_id: s.target for s in snapshots}
    items = [(ref_of(targets[pk]), inventories[pk]) for pk in sorted(inventories)]
    found = connectors.review_run(items, context_for(engagement))
    if found is None:
        return None
    return inventories, findings_keep(engagement, targets, inventories, found)


def _target_of(
    finding: engine.Finding, by_ref: dict[tuple[str, str], list[int]], inventories: dict[int, Inventory]
) -> int | None:
    candidates = by_ref.get((finding.system, finding.host), [])
    if len(candidates) > 1:  # several connectors on one host: the one whose inventory has the account
        named = [pk for pk in candidates if inventories[pk].account(finding.account) is not None]
        candidates = named or candidates
    return candidates[0] if candidates else None


def _evidence(finding: engine.Finding) -> list[dict[str, Any]]:
    return [asdict(e) for e in finding.evidence]


def findings_keep(
    engagement: Engagement,
    targets: dict[int, Target],
    inventories: dict[int, Inventory],
    found: list[engine.Finding],
) -> dict[int, list[Finding]]:
    """Store ``found`` against the targets reviewed; open findings no longer found are resolved."""
    now = timezone.now()
    by_ref: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk in sorted(targets):
        ref = ref_of(targets[pk])
        by_ref[(ref.system, ref.host)].append(pk)
    stored = {(f.target_id, f.rule, f.account_name): f for f in Finding.objects.filter(target_id__in=targets)}
    accounts = {
        (a.system_id, a.asset_id, a.login_name): a.pk
        for a in Account.objects.filter(engagement=engagement, asset__isnull=False)
    }
    seen: set[tuple[int, str, str]] = set()
    result: dict[int, list[Finding]] = defaultdict(list)
    for item in found:
        target_pk = _target_of(item, by_ref, inventories)
        if target_pk is None:
            continue
        target, key = targets[target_pk], (target_pk, item.rule, item.account[:300])
        if key in seen:
            continue
        seen.add(key)
        values = {
            "severity": item.severity,
            "detail_en": item.detail_en,
            "detail_zh": item.detail_zh,
            "evidence": _evidence(item),
            "score": item.score,
            "last_seen": now,
            "resolved_at": None,
            "account_id": accounts.get((target.system_id, target.asset_id, item.account[:200])),
        }
        row = stored.get(key)
        if row is None:
            row = Finding.objects.create(
                engagement=engagement,
                site=target.site,
                target=target,
                system=target.system,
                asset=target.asset,
                rule=item.rule,
                account_name=key[2],
                first_seen=now,
                **values,
            )
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.save(update_fields=list(values))
        result[target_pk].append(row)
    gone = [f.pk for k, f in stored.items() if k not in seen and f.resolved_at is None]
    Finding.objects.filter(pk__in=gone).update(resolved_at=now)
    return result
