"""Reads of the handover packages: only for those who hold manage_packages in the engagement (技术组)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.errors import NotFound
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import require
from handover.registers import catalogue, computed
from handover.registers.io.exporting import site_label
from handover.registers.models import FROZEN_STATES, Form
from handover.reports.models import BuildState, HandoverPackage, PackageBuild, PackageDistribution
from handover.workflow import state
from handover.workflow.models import CaseState, ExceptionCase


def package_list(*, user: Actor, engagement: Engagement) -> QuerySet[HandoverPackage]:
    """The engagement's packages, newest first, with their approval and their signed 表24."""
    require(user=user, engagement=engagement, capability=perms.MANAGE_PACKAGES)
    return _packages(engagement)


def build_list(*, user: Actor, engagement: Engagement, limit: int = 5) -> list[PackageBuild]:
    """The engagement's latest asked builds, newest first, with their progress and outcome."""
    require(user=user, engagement=engagement, capability=perms.MANAGE_PACKAGES)
    return list(PackageBuild.objects.filter(engagement=engagement).select_related("package")[:limit])


def build_under_way(builds: list[PackageBuild]) -> bool:
    """Whether a build is queued or running (the page then reloads itself)."""
    return any(b.state in (BuildState.QUEUED, BuildState.RUNNING) for b in builds)


def _packages(engagement: Engagement) -> QuerySet[HandoverPackage]:
    return (
        HandoverPackage.objects.filter(engagement=engagement)
        .select_related("approval", "engagement")
        .prefetch_related("table24__signatures__person")
    )


def _one(packages: QuerySet[HandoverPackage], package_id: int) -> HandoverPackage:
    package = packages.filter(pk=package_id).first()
    if package is None:
        raise NotFound(
            _("No handover package %(id)d in this engagement.") % {"id": package_id}, field="package"
        )
    return package


def package_get(*, user: Actor, engagement: Engagement, package_id: int) -> HandoverPackage:
    """One package of the engagement, or NotFound."""
    return _one(package_list(user=user, engagement=engagement), package_id)


def packages_to_approve(*, user: Actor, engagement: Engagement) -> QuerySet[HandoverPackage]:
    """The engagement's packages as the working group reads them (approve_package), newest first."""
    require(user=user, engagement=engagement, capability=perms.APPROVE_PACKAGE)
    return _packages(engagement)


def package_to_approve(*, user: Actor, engagement: Engagement, package_id: int) -> HandoverPackage:
    """One package for the working group, or NotFound."""
    return _one(packages_to_approve(user=user, engagement=engagement), package_id)


def open_cases_for_working_group(*, user: Actor, engagement: Engagement) -> QuerySet[ExceptionCase]:
    """The engagement's open exception cases as the working group weighs them before approving 表24: path,
    site, description, and any residual-risk acceptance already given (第二十七条第4项, 第二十八条)."""
    require(user=user, engagement=engagement, capability=perms.APPROVE_PACKAGE)
    return (
        ExceptionCase.objects.filter(engagement=engagement, state=CaseState.OPEN)
        .select_related("site", "risk_acceptance__accepted_by")
        .order_by("opened_at", "pk")
    )


def open_case_for_working_group(*, user: Actor, engagement: Engagement, case_id: int) -> ExceptionCase:
    case = open_cases_for_working_group(user=user, engagement=engagement).filter(pk=case_id).first()
    if case is None:
        raise NotFound(_("No open exception case %(id)d in this engagement.") % {"id": case_id}, field="case")
    return case


def table24_approved(engagement: Engagement) -> Form | None:
    """The current signed 表24 that a handover package carried and 托管工作组 approved (第二十七条第4项: 技术组
    编制, 报托管工作组审批); the latest if there are several. The workflow's gate of 交接期 → 稳定期 asks this
    (reports/apps.py plugs it in): it reads no user, as the phase change has checked its actor already."""
    carried = HandoverPackage.table24.through.objects.filter(
        handoverpackage__engagement=engagement, handoverpackage__approval__isnull=False
    ).values("form_id")
    return (
        Form.objects.filter(
            engagement=engagement,
            register_no=catalogue.HANDOVER_SUMMARY,
            is_current=True,
            state__in=state.SIGNED,
            pk__in=carried,
        )
        .order_by("-pk")
        .first()
    )


# 表5–23: the handover-day lists a site must have signed to be done (表24 itself and 表39 excluded).
DONE_REGISTERS = tuple(range(5, 24))


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
    for site_id, number, form_no, version, form_state in forms.order_by("register_no", "form_no").values_list(
        "site_id", "register_no", "form_no", "version", "state"
    ):
        gaps = found.setdefault(site_id, [])
        if form_state not in FROZEN_STATES:
            gaps.append(
                _("表%(n)d %(form)s v%(v)d is %(state)s, not signed")
                % {"n": number, "form": form_no, "v": version, "state": computed.STATE_LABELS[form_state]}
            )
    result = []
    for site in Site.objects.filter(engagement=engagement, is_active=True).order_by("path"):
        if site.pk not in found:
            result.append(SiteNotDone(site, [_("no handover list (表5–23) at all")]))
        elif found[site.pk]:
            result.append(SiteNotDone(site, found[site.pk]))
    return result


def package_distributions(*, package: HandoverPackage) -> QuerySet[PackageDistribution]:
    """Where a package went (the distribution records, each with its site), for its page."""
    return package.distributions.select_related("site")
