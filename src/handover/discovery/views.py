"""Pages of discovery: systems → hosts → accounts with findings, filtered by rule and site; a run's progress
and per-target outcome (htmx polling); import and gather forms; a decision on a finding. Thin: the forms
check shape, the services decide, the selectors read."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.core.errors import NotFound
from handover.core.uploads import upload_kind
from handover.discovery import engine, selectors, services
from handover.discovery.forms import DecisionForm, GatherForm, ImportForm
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.web import actions
from handover.web.access import needs
from handover.web.pages import capabilities_in


def _caps(request: HttpRequest, engagement: Engagement) -> set[str]:
    return capabilities_in(user=request.user, engagement=engagement)[1]


def _site(request: HttpRequest, engagement: Engagement, code: str | None) -> Site | None:
    if not code:
        return None
    site = Site.objects.filter(engagement=engagement, code=code).first()
    if site is None:
        raise NotFound(_("No site %(code)s in this engagement.") % {"code": code}, field="site")
    return site


def _context(request: HttpRequest, engagement: Engagement, **extra: Any) -> dict[str, Any]:
    return {"engagement": engagement, "caps": _caps(request, engagement), **extra}


@upload_kind("import")
@needs(perms.VIEW_DISCOVERY)
def index(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """Systems with their hosts; the import and gather forms for those who may run discovery."""
    site = _site(request, engagement, request.GET.get("site"))
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data

        def upload() -> Any:
            target_site = _site(request, engagement, data["site"])
            assert target_site is not None  # the form requires a site code
            return services.discovery_import_upload(
                actor=request.user,
                engagement=engagement,
                site=target_site,
                system_name=data["system"],
                kind=data["kind"],
                upload=data["file"],
                host=data["host"],
            )

        result = actions.run(request, form, upload)
        if result is not None:
            messages.success(request, _("%(file)s imported: %(accounts)s accounts, %(findings)s findings.")
                             % {"file": data["file"].name, "accounts": result.snapshot.facts.count(),
                                "findings": result.counts.get("findings", 0)})  # fmt: skip
            return redirect("discovery:target", code=engagement.code, target_id=result.snapshot.target_id)
    systems = selectors.systems_list(user=request.user, engagement=engagement, site=site)
    targets = selectors.targets_list(user=request.user, engagement=engagement).filter(system__in=systems)
    by_system: dict[int, list[Any]] = {}
    for target in targets:
        by_system.setdefault(target.system_id, []).append(target)
    rows = [(s, by_system.get(s.pk, [])) for s in systems]
    runs = selectors.runs_list(user=request.user, engagement=engagement)[:10]
    context = _context(request, engagement, form=form, gather=GatherForm(), rows=rows, runs=runs, site=site)
    return render(request, "discovery/index.html", context)


@require_POST
@needs(perms.RUN_DISCOVERY)
def gather(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """Start a run over the given site (or all of the user's scope)."""
    form = GatherForm(request.POST)

    def start() -> Any:
        site = _site(request, engagement, form.data.get("site"))
        return services.run_start(actor=request.user, engagement=engagement, site=site)

    started = actions.run(request, None, start)
    if started is None:
        return redirect("discovery:index", code=engagement.code)
    return redirect("discovery:run", code=engagement.code, run_id=started.pk)


@needs(perms.VIEW_DISCOVERY)
def run_detail(request: HttpRequest, engagement: Engagement, run_id: int) -> HttpResponse:
    """A run's progress and per-target outcome; the table polls itself until the run is over."""
    run = selectors.run_get(user=request.user, engagement=engagement, pk=run_id)
    outcomes = run.outcomes.select_related("target__asset", "target__system")
    context = _context(request, engagement, run=run, outcomes=outcomes,
                       finished=run.state in ("done", "failed"))  # fmt: skip
    template = "discovery/_run_progress.html" if request.headers.get("HX-Request") else "discovery/run.html"
    return render(request, template, context)


@needs(perms.VIEW_DISCOVERY)
def target_detail(request: HttpRequest, engagement: Engagement, target_id: int) -> HttpResponse:
    """One host's gathered accounts, each with its findings; filter by rule."""
    target = selectors.target_get(user=request.user, engagement=engagement, pk=target_id)
    rule = request.GET.get("rule", "")
    facts = list(selectors.facts_list(user=request.user, engagement=engagement, target=target))
    findings = selectors.findings_list(user=request.user, engagement=engagement, target=target, rule=rule)
    by_account: dict[str, list[Any]] = {}
    for finding in findings:
        by_account.setdefault(finding.account_name, []).append(finding)
    if rule:
        facts = [f for f in facts if f.name in by_account]
    rows = [(fact, by_account.get(fact.name, [])) for fact in facts]
    rules = _labelled(
        {f.rule for f in selectors.findings_list(user=request.user, engagement=engagement, target=target)}
    )
    language = get_language() or ""
    for _fact, items in rows:
        for finding in items:
            finding.rule_label = engine.rule_label(finding.rule, language)
    try:
        preview = services.discovery_restore_preview(actor=request.user, target=target)
    except NotFound:
        preview = []
    context = _context(request, engagement, target=target, rows=rows, rule=rule, rules=rules,
                       decision_form=DecisionForm(), preview=preview)  # fmt: skip
    return render(request, "discovery/target.html", context)


def _labelled(codes: set[str]) -> list[tuple[str, str]]:
    """The rules for a filter, each with what it means in the page's language."""
    language = get_language() or ""
    return sorted((code, engine.rule_label(code, language)) for code in codes)


@needs(perms.VIEW_DISCOVERY)
def finding_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """Open findings across the user's sites, by rule and site."""
    site = _site(request, engagement, request.GET.get("site"))
    rule = request.GET.get("rule", "")
    found = selectors.findings_list(user=request.user, engagement=engagement, site=site, rule=rule)
    page = Paginator(found, 100).get_page(request.GET.get("page"))
    rules = _labelled(
        set(selectors.findings_list(user=request.user, engagement=engagement).values_list("rule", flat=True))
    )
    language = get_language() or ""
    for finding in page:
        finding.rule_label = engine.rule_label(finding.rule, language)
    context = _context(request, engagement, page=page, rule=rule, rules=rules, site=site)
    return render(request, "discovery/findings.html", context)


@require_POST
@needs(perms.RUN_DISCOVERY)
def finding_decide(request: HttpRequest, engagement: Engagement, finding_id: int) -> HttpResponse:
    """A person's decision; drafts the 表13 change behind the backup, or says why not."""
    finding = selectors.finding_get(user=request.user, engagement=engagement, pk=finding_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a decision."))
    else:
        data = form.cleaned_data
        actions.press(
            request,
            lambda: services.finding_decide(actor=request.user, finding=finding, **data),
            _("Decision recorded; the registers' drafts wait for people to sign."),
        )
    return redirect("discovery:target", code=engagement.code, target_id=finding.target_id)
