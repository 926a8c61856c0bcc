"""What is due and overdue across the parts: reports owed on incidents, drills planned, acceptances ending."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.risk.models import Drill, RiskAcceptance, Severity, SupplierState
from handover.risk.selectors import changes, suppliers, vulns
from handover.risk.selectors.common import visible
from handover.risk.selectors.incidents import Due, clocks_open
from handover.workflow.deadlines import BEIJING


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59), tzinfo=BEIJING)


def deadlines(*, user: Actor, engagement: Engagement, now: dt.datetime) -> list[Due]:
    """Everything owed, earliest first; ``overdue`` when its time has passed."""
    visible(user, engagement, perms.VIEW_RISK)
    found = clocks_open(user=user, engagement=engagement, now=now)
    for drill in Drill.objects.filter(engagement=engagement, held_on__isnull=True).select_related(
        "plan_version__plan"
    ):
        due = _end_of(drill.due_on)
        found.append(Due(_("Drill: %(scenario)s") % {"scenario": drill.get_scenario_display()},
                         drill.plan_version.plan.title, due, due <= now))  # fmt: skip
    accepted = RiskAcceptance.objects.filter(risk__engagement=engagement, approved_at__isnull=False)
    for acceptance in accepted.select_related("risk"):
        due = _end_of(acceptance.expires_on)
        found.append(Due(_("Risk acceptance ends"), acceptance.risk.number, due, due <= now))
    # 三(二)五: suppliers' contracts ending within the window (or ended) while the supplier still serves.
    today = now.astimezone(BEIJING).date()
    for supplier in suppliers.supplier_lines(user=user, engagement=engagement, today=today):
        if supplier.record is not None and supplier.record.state == SupplierState.EXITED:
            continue
        for contract in supplier.contracts:
            if contract.ends_on is not None and (contract.ends_on - today).days <= suppliers.window():
                due = _end_of(contract.ends_on)
                found.append(Due(_("Supplier contract ends: %(org)s") % {"org": supplier.organisation.name},
                                 f"表{contract.register_no} {contract.number}", due, due <= now))  # fmt: skip
    # 三(二)三: investors' notices to publish before a change's window, approved changes' windows.
    for item in changes.owed(engagement=engagement):
        what = _("Investor notice of change") if item.what == "notice" else _("Change window ends")
        found.append(Due(what, f"{item.change.number} {item.change.title}", item.due_at, item.due_at <= now))
    # 三(四)一: open vulnerabilities, one line per severity (a scan may hold thousands): the earliest fix time.
    for line in vulns.due_by_severity(engagement=engagement, now=now):
        due = _end_of(line.earliest)
        what = _("Vulnerabilities to fix (%(severity)s): %(count)d open, %(overdue)d past their fix time") % {
            "severity": Severity(line.severity).label, "count": line.count, "overdue": line.overdue,
        }  # fmt: skip
        found.append(Due(what, _("vulnerabilities"), due, due <= now))
    return sorted(found, key=lambda d: (d.due_at, d.ref))
