"""What the package's services share: which registers make a site done and are annexed, and which sites are not done."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from handover.core.actors import Actor, actor_name
from handover.org.models import Engagement, Site
from handover.registers import computed
from handover.registers.io.exporting import site_label
from handover.registers.models import FROZEN_STATES, Form

# 表5–23: the handover-day lists a site must have signed to be done (表24 itself and 表39 excluded).
DONE_REGISTERS = tuple(range(5, 24))


ANNEXES = tuple(n for n in computed.ANNEXED if n != 24)


FROZEN = FROZEN_STATES


STATE_ZH = computed.STATE_LABELS


BOTH = ("xlsx", "pdf")


@dataclass(frozen=True)
class SiteNotDone:
    """A site that is not done, and what it still lacks (one line per form or gap)."""

    site: Site
    missing: list[str]

    def __str__(self) -> str:
        return f"{site_label(self.site)}: {'; '.join(self.missing)}"


def sites_not_done(engagement: Engagement) -> list[SiteNotDone]:
    """The active sites whose 表5–23 forms are not all signed, each with what is missing.

    One function so the workflow's notion of "done" (its steps) can replace this one in one place. A site with
    no handover list at all is not done either: nothing of it could be annexed (第二十七条第4项).
    """
    forms = Form.objects.filter(engagement=engagement, is_current=True, register_no__in=DONE_REGISTERS)
    found: dict[int, list[str]] = {}
    for site_id, number, form_no, version, state in forms.order_by("register_no", "form_no").values_list(
        "site_id", "register_no", "form_no", "version", "state"
    ):
        gaps = found.setdefault(site_id, [])
        if state not in FROZEN:
            gaps.append(
                _("表%(n)d %(form)s v%(v)d is %(state)s, not signed")
                % {"n": number, "form": form_no, "v": version, "state": STATE_ZH[state]}
            )
    result = []
    for site in Site.objects.filter(engagement=engagement, is_active=True).order_by("path"):
        if site.pk not in found:
            result.append(SiteNotDone(site, [_("no handover list (表5–23) at all")]))
        elif found[site.pk]:
            result.append(SiteNotDone(site, found[site.pk]))
    return result


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
