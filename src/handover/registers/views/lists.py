"""The register index and the lists: rows of a register (filters, search, keyset pages) and its forms."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement, Phase
from handover.registers import catalogue, selectors
from handover.registers.forms import (
    RowFilterForm,
    column_label,
)
from handover.registers.views.common import (
    page_context,
    register_spec,
    table,
)
from handover.web.access import needs


@needs(perms.VIEW_REGISTERS)
def register_index(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    sites = org_selectors.site_list(user=request.user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    site = (
        sites.filter(pk=request.GET.get("site") or 0).first()
        if request.GET.get("site", "").isdecimal()
        else None
    )
    phase = request.GET.get("phase", "")
    phase = phase if phase in Phase.values else ""
    groups = selectors.register_index(user=request.user, engagement=engagement, site=site, phase=phase)
    return render(
        request,
        "registers/index.html",
        page_context(
            request, engagement, groups=groups, sites=sites, site=site, phase=phase, phases=Phase.choices
        ),
    )


def row_filters(
    request: HttpRequest, engagement: Engagement, register_no: int
) -> tuple[RowFilterForm, Any, selectors.Reach | None]:
    """The list's filters from the query string, and where the user may read registers (read once here for
    the whole request: the filter's sites, the rows' scope, the import links); the list and its export read
    them alike."""
    within = selectors.reach(user=request.user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    form = RowFilterForm(request.GET or None, sites=within.active if within else [], register_no=register_no)
    chosen = form.cleaned_data if form.is_valid() else {}
    filters = selectors.RowFilters(
        register_no=register_no,
        site=chosen.get("site"),
        state=chosen.get("form_state", ""),
        q=chosen.get("q", "").strip(),
        columns=selectors.column_filters(register_no, request.GET),
    )
    return form, filters, within


def _query_without_cursor(request: HttpRequest) -> str:
    params = request.GET.copy()
    for key in ("after", "before", "last"):
        params.pop(key, None)
    return params.urlencode()


@needs(perms.VIEW_REGISTERS)
def row_list(request: HttpRequest, engagement: Engagement, register_no: int) -> HttpResponse:
    spec = register_spec(register_no)
    filter_form, filters, within = row_filters(request, engagement, register_no)
    rows = selectors.row_list(user=request.user, engagement=engagement, filters=filters, within=within)
    cursor = selectors.Cursor.parse(
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        last=request.GET.get("last", ""),
    )
    page = selectors.row_lines(rows=rows, cursor=cursor)  # only what the page shows (issue 18)
    columns = catalogue.columns(register_no)
    return render(
        request,
        "registers/row_list.html",
        page_context(
            request,
            engagement,
            spec=spec,
            links=_list_links(engagement.code, register_no),
            filter_form=filter_form,
            page=page,
            headers=[column_label(c) for c in columns],
            table=table(engagement, spec, columns, page.rows, user=request.user, show_form=True),
            query=_query_without_cursor(request),
            can_fill=org_selectors.has_capability(
                user=request.user, engagement=engagement, capability=perms.FILL_REGISTERS
            ),
            import_sites=_import_links(request, engagement, register_no, within),
        ),
    )


@lru_cache(maxsize=4096)
def _list_links(code: str, register_no: int) -> Mapping[str, str]:
    """The list page's own links (the index, forms, exports, blank templates), reversed once per process for
    each engagement and register: the same for every reader, and a dozen ``{% url %}`` tags were a third of
    the page's template (issue 18)."""
    args = {"code": code, "register_no": register_no}
    links = {
        name: reverse(f"registers:{name}", kwargs=args) for name in ("row_list", "form_list", "form_create")
    }
    for fmt in ("xlsx", "pdf", "csv"):
        links[f"export_{fmt}"] = reverse("registers:row_export", kwargs={**args, "fmt": fmt})
    for fmt in ("xlsx", "csv"):
        links[f"template_{fmt}"] = reverse("registers:register_template", kwargs={**args, "fmt": fmt})
    links["index"] = reverse("registers:index", kwargs={"code": code})
    return MappingProxyType(links)


def _import_links(
    request: HttpRequest, engagement: Engagement, register_no: int, within: selectors.Reach | None
) -> list[tuple[str, str]]:
    """(site name, import page) for each site where the user may fill registers, the link reversed once: a
    技术组 at 300 营业部 has 300 of them (issue 18). The sites are those already read for reading when the
    user fills where they read (the usual case), else read once more."""
    sites = selectors.reach(
        user=request.user, engagement=engagement, capability=perms.FILL_REGISTERS, like=within
    )
    kwargs = {"code": engagement.code, "register_no": register_no, "site_id": 0}
    link = reverse("registers:import_page", kwargs=kwargs)[:-2]
    return [(site.name, f"{link}{site.pk}/") for site in (sites.active if sites else [])]


@needs(perms.VIEW_REGISTERS)
def form_list(request: HttpRequest, engagement: Engagement, register_no: int) -> HttpResponse:
    spec = register_spec(register_no)
    forms = selectors.form_list(user=request.user, engagement=engagement, register_no=register_no)
    state = request.GET.get("form_state", "")
    if state:
        forms = forms.filter(state=state)
    page = Paginator(forms, 50).get_page(request.GET.get("page"))
    link = reverse("registers:form_detail", kwargs={"code": engagement.code, "form_id": 0})[:-2]
    return render(
        request,
        "registers/form_list.html",
        page_context(
            request,
            engagement,
            spec=spec,
            page=page,
            rows=[(form, f"{link}{form.pk}/") for form in page],  # one reversal, not one per form
            query=f"form_state={state}" if state else "",
            can_fill=org_selectors.has_capability(
                user=request.user, engagement=engagement, capability=perms.FILL_REGISTERS
            ),
        ),
    )
