"""Pages of the engagement: dashboard, site tree, sites, people, organisations and roles. Thin: forms check
shape, services decide, selectors read."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.org import permissions as perms
from handover.org import selectors, services
from handover.org.forms import LinkLoginForm, OrganisationForm, PersonForm, RoleForm, SiteForm
from handover.org.models import Engagement, RoleAssignment
from handover.web import actions
from handover.web.access import AUTHENTICATED, needs
from handover.web.pages import engagement_page


def _save(form: Any, action: Any) -> Any:
    """Run a service with the form's data; a DomainError lands on the field it names."""
    return actions.run(None, form, lambda: action(form.cleaned_data))


@needs(AUTHENTICATED)
def engagement_list(request: HttpRequest) -> HttpResponse:
    engagements = list(selectors.engagement_list(user=request.user))
    for e in engagements:  # 第十一条: D only for those who may know it
        e.shown_disposal_date = (  # type: ignore[attr-defined]
            e.disposal_date if selectors.disposal_date_visible(user=request.user, engagement=e) else None
        )
    return render(request, "org/engagement_list.html", {"engagements": engagements})


@needs(perms.VIEW_SUMMARY)
def dashboard(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    summary = selectors.dashboard_summary(user=request.user, engagement=engagement)
    ctx = engagement_page(request, engagement, summary=summary)
    # 第十一条: reading the confidential name is a sensitive read; the service records it.
    ctx["firm_name"] = services.firm_name_reveal(actor=request.user, engagement=engagement)
    ctx["disposal_date_visible"] = selectors.disposal_date_visible(user=request.user, engagement=engagement)
    return render(request, "org/dashboard.html", ctx)


@needs(perms.VIEW_ENGAGEMENT)
def site_detail(request: HttpRequest, engagement: Engagement, site_id: int) -> HttpResponse:
    site = selectors.site_get(user=request.user, engagement=engagement, site_id=site_id)
    children = selectors.site_list(user=request.user, engagement=engagement).filter(parent=site)
    can_people = selectors.has_capability(
        user=request.user, engagement=engagement, capability=perms.VIEW_PEOPLE, site=site
    )
    people = (
        selectors.person_list(user=request.user, engagement=engagement).filter(site=site)
        if can_people
        else []
    )
    roles = selectors.role_list(user=request.user, engagement=engagement).filter(site=site)
    return render(
        request,
        "org/site_detail.html",
        engagement_page(
            request,
            engagement,
            site=site,
            children=children,
            people=people,
            roles=roles,
            can_people=can_people,
        ),
    )


@needs(perms.MANAGE_SITES)
def site_create(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    sites = selectors.site_list(user=request.user, engagement=engagement, capability=perms.MANAGE_SITES)
    initial = {"parent": request.GET.get("parent"), "level": request.GET.get("level")}
    form = SiteForm(request.POST or None, sites=sites, initial=initial)
    if request.method == "POST" and form.is_valid():
        site = _save(form, lambda d: services.site_create(actor=request.user, engagement=engagement, **d))
        if site:
            messages.success(request, _("Site %(name)s added.") % {"name": site.name})
            return redirect("org:site_detail", code=engagement.code, site_id=site.pk)
    return render(
        request, "org/form.html", engagement_page(request, engagement, form=form, title=_("Add a site"))
    )


@needs(perms.MANAGE_SITES)
def site_edit(request: HttpRequest, engagement: Engagement, site_id: int) -> HttpResponse:
    site = selectors.site_get(
        user=request.user, engagement=engagement, site_id=site_id, capability=perms.MANAGE_SITES
    )
    sites = selectors.site_list(user=request.user, engagement=engagement, capability=perms.MANAGE_SITES)
    form = SiteForm(
        request.POST or None, instance=site, sites=sites.exclude(path__startswith=site.path), editing=True
    )
    if request.method == "POST" and form.is_valid():
        data = {k: form.cleaned_data[k] for k in ("name", "code", "parent", "address")}
        site.refresh_from_db()
        if _save(form, lambda d: services.site_update(actor=request.user, site=site, **data)):
            messages.success(request, _("Site %(name)s saved.") % {"name": site.name})
            return redirect("org:site_detail", code=engagement.code, site_id=site.pk)
    return render(
        request,
        "org/form.html",
        engagement_page(request, engagement, form=form, title=_("Edit site %(name)s") % {"name": site.name}),
    )


@require_POST
@needs(perms.MANAGE_SITES)
def site_deactivate(request: HttpRequest, engagement: Engagement, site_id: int) -> HttpResponse:
    site = selectors.site_get(
        user=request.user, engagement=engagement, site_id=site_id, capability=perms.MANAGE_SITES
    )
    done = _("Site %(name)s deactivated.") % {"name": site.name}
    actions.press(request, lambda: services.site_deactivate(actor=request.user, site=site), done)
    return redirect("org:site_detail", code=engagement.code, site_id=site.pk)


@needs(perms.VIEW_PEOPLE)
def person_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    people = selectors.person_list(
        user=request.user, engagement=engagement, include_inactive=request.GET.get("all") == "1"
    )
    query = request.GET.get("q", "").strip()
    if query:
        people = people.filter(name__icontains=query)
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    return render(
        request, "org/person_list.html", engagement_page(request, engagement, page=page, query=query)
    )


@needs(perms.VIEW_PEOPLE)
def person_detail(request: HttpRequest, engagement: Engagement, person_id: int) -> HttpResponse:
    person = selectors.person_get(user=request.user, engagement=engagement, person_id=person_id)
    roles = selectors.role_list(user=request.user, engagement=engagement, person=person)
    role_form = link_form = None
    if selectors.has_capability(user=request.user, engagement=engagement, capability=perms.MANAGE_ROLES):
        role_form = RoleForm(sites=selectors.site_list(user=request.user, engagement=engagement))
        link_form = LinkLoginForm(logins=selectors.linkable_logins(user=request.user, engagement=engagement))
    return render(
        request,
        "org/person_detail.html",
        engagement_page(
            request, engagement, person=person, roles=roles, role_form=role_form, link_form=link_form
        ),
    )


def _person_form(request: HttpRequest, engagement: Engagement, instance: Any = None) -> PersonForm:
    return PersonForm(
        request.POST or None,
        instance=instance,
        sites=selectors.site_list(user=request.user, engagement=engagement, capability=perms.MANAGE_PEOPLE),
        organisations=selectors.organisation_list(user=request.user, engagement=engagement),
    )


@needs(perms.MANAGE_PEOPLE)
def person_create(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = _person_form(request, engagement)
    if request.method == "POST" and form.is_valid():
        person = _save(form, lambda d: services.person_create(actor=request.user, engagement=engagement, **d))
        if person:
            messages.success(request, _("%(name)s added.") % {"name": person.name})
            return redirect("org:person_detail", code=engagement.code, person_id=person.pk)
    return render(
        request, "org/form.html", engagement_page(request, engagement, form=form, title=_("Add a person"))
    )


@needs(perms.MANAGE_PEOPLE)
def person_edit(request: HttpRequest, engagement: Engagement, person_id: int) -> HttpResponse:
    person = selectors.person_get(user=request.user, engagement=engagement, person_id=person_id)
    selectors.require(
        user=request.user, engagement=engagement, capability=perms.MANAGE_PEOPLE, site=person.site
    )
    form = _person_form(request, engagement, instance=person)
    if request.method == "POST" and form.is_valid():
        fresh = selectors.person_get(user=request.user, engagement=engagement, person_id=person_id)
        if _save(form, lambda d: services.person_update(actor=request.user, person=fresh, **d)):
            messages.success(request, _("%(name)s saved.") % {"name": fresh.name})
            return redirect("org:person_detail", code=engagement.code, person_id=person_id)
    return render(
        request,
        "org/form.html",
        engagement_page(request, engagement, form=form, title=_("Edit %(name)s") % {"name": person.name}),
    )


@require_POST
@needs(perms.MANAGE_PEOPLE)
def person_deactivate(request: HttpRequest, engagement: Engagement, person_id: int) -> HttpResponse:
    person = selectors.person_get(user=request.user, engagement=engagement, person_id=person_id)
    services.person_deactivate(actor=request.user, person=person)
    messages.success(request, _("%(name)s deactivated; their roles are revoked.") % {"name": person.name})
    return redirect("org:person_detail", code=engagement.code, person_id=person_id)


@require_POST
@needs(perms.MANAGE_ROLES)
def person_link_login(request: HttpRequest, engagement: Engagement, person_id: int) -> HttpResponse:
    person = selectors.person_get(user=request.user, engagement=engagement, person_id=person_id)
    form = LinkLoginForm(
        request.POST, logins=selectors.linkable_logins(user=request.user, engagement=engagement)
    )
    if form.is_valid() and _save(
        form, lambda d: services.person_link_login(actor=request.user, person=person, user=d["user"])
    ):
        messages.success(
            request,
            _("%(name)s now signs in as %(login)s.")
            % {"name": person.name, "login": form.cleaned_data["user"].get_username()},
        )
    else:
        _report_errors(request, form)
    return redirect("org:person_detail", code=engagement.code, person_id=person_id)


def _report_errors(request: HttpRequest, form: Any) -> None:
    """A refused person-page form's errors as messages (the page it redirects to shows them)."""
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))


@require_POST
@needs(perms.MANAGE_ROLES)
def person_unlink_login(request: HttpRequest, engagement: Engagement, person_id: int) -> HttpResponse:
    person = selectors.person_get(user=request.user, engagement=engagement, person_id=person_id)
    done = _("%(name)s has no login account now.") % {"name": person.name}
    actions.press(request, lambda: services.person_unlink_login(actor=request.user, person=person), done)
    return redirect("org:person_detail", code=engagement.code, person_id=person_id)


@require_POST
@needs(perms.MANAGE_ROLES)
def role_grant(request: HttpRequest, engagement: Engagement, person_id: int) -> HttpResponse:
    person = selectors.person_get(user=request.user, engagement=engagement, person_id=person_id)
    form = RoleForm(request.POST, sites=selectors.site_list(user=request.user, engagement=engagement))
    if form.is_valid() and _save(form, lambda d: services.role_grant(actor=request.user, person=person, **d)):
        messages.success(request, _("Role granted."))
    else:
        _report_errors(request, form)
    return redirect("org:person_detail", code=engagement.code, person_id=person_id)


@require_POST
@needs(perms.MANAGE_ROLES)
def role_revoke(request: HttpRequest, engagement: Engagement, role_id: int) -> HttpResponse:
    assignment = selectors.role_list(user=request.user, engagement=engagement).filter(pk=role_id).first()
    if assignment is None:
        messages.error(request, _("That role is not held any more."))
        return redirect("org:dashboard", code=engagement.code)
    with transaction.atomic():
        services.role_revoke(actor=request.user, assignment=RoleAssignment.objects.get(pk=assignment.pk))
    messages.success(request, _("Role revoked."))
    return redirect("org:person_detail", code=engagement.code, person_id=assignment.person_id)


@needs(perms.VIEW_ORGS)
def organisation_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    organisations = selectors.organisation_list(
        user=request.user, engagement=engagement, include_inactive=request.GET.get("all") == "1"
    )
    return render(
        request,
        "org/organisation_list.html",
        engagement_page(request, engagement, organisations=organisations),
    )


@needs(perms.MANAGE_ORGS)
def organisation_create(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organisation = _save(
            form, lambda d: services.organisation_create(actor=request.user, engagement=engagement, **d)
        )
        if organisation:
            messages.success(request, _("%(name)s added.") % {"name": organisation.name})
            return redirect("org:organisation_list", code=engagement.code)
    return render(
        request,
        "org/form.html",
        engagement_page(request, engagement, form=form, title=_("Add an organisation")),
    )


@needs(perms.MANAGE_ORGS)
def organisation_edit(request: HttpRequest, engagement: Engagement, organisation_id: int) -> HttpResponse:
    organisation = selectors.organisation_get(
        user=request.user, engagement=engagement, organisation_id=organisation_id
    )
    form = OrganisationForm(request.POST or None, instance=organisation)
    if request.method == "POST" and form.is_valid():
        fresh = selectors.organisation_get(
            user=request.user, engagement=engagement, organisation_id=organisation_id
        )
        if _save(form, lambda d: services.organisation_update(actor=request.user, organisation=fresh, **d)):
            messages.success(request, _("%(name)s saved.") % {"name": fresh.name})
            return redirect("org:organisation_list", code=engagement.code)
    return render(
        request,
        "org/form.html",
        engagement_page(
            request, engagement, form=form, title=_("Edit %(name)s") % {"name": organisation.name}
        ),
    )


@require_POST
@needs(perms.MANAGE_ORGS)
def organisation_deactivate(
    request: HttpRequest, engagement: Engagement, organisation_id: int
) -> HttpResponse:
    organisation = selectors.organisation_get(
        user=request.user, engagement=engagement, organisation_id=organisation_id
    )
    services.organisation_deactivate(actor=request.user, organisation=organisation)
    messages.success(request, _("%(name)s deactivated.") % {"name": organisation.name})
    return redirect("org:organisation_list", code=engagement.code)
