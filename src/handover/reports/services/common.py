"""What the package's services share: which registers are annexed, and (from the selectors) which sites are not done."""

from __future__ import annotations

from handover.core.actors import Actor, actor_name
from handover.org.models import Engagement
from handover.registers import computed
from handover.registers.models import FROZEN_STATES, Form
from handover.reports.selectors import DONE_REGISTERS, SiteNotDone, sites_not_done

# DONE_REGISTERS, SiteNotDone and sites_not_done are reads (reports/selectors.py); the build imports them here.
__all__ = [
    "ANNEXES",
    "BOTH",
    "DONE_REGISTERS",
    "FROZEN",
    "STATE_ZH",
    "SiteNotDone",
    "_actor_name",
    "annexed_forms",
    "sites_not_done",
]

ANNEXES = tuple(n for n in computed.ANNEXED if n != 24)


FROZEN = FROZEN_STATES


STATE_ZH = computed.STATE_LABELS


BOTH = ("xlsx", "pdf")


def annexed_forms(engagement: Engagement) -> list[Form]:
    """Per form number, its latest signed (or archived) version: the version a package annexes."""
    signed = (
        Form.objects.filter(
            engagement=engagement, register_no__in=ANNEXES, state__in=FROZEN, site__is_active=True
        )
        .select_related("site")
        .order_by("site__path", "register_no", "form_no", "-version")
    )
    latest: dict[str, Form] = {}
    for form in signed:
        latest.setdefault(form.form_no, form)
    return list(latest.values())


def _actor_name(actor: Actor) -> str:
    return actor_name(actor)
