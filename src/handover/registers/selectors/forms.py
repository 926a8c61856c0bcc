"""Forms: the list, one form and its versions, and what the reader may do with it (sign, archive, correct)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    Prefetch,
    QuerySet,
)
from django.utils.translation import gettext as _

from handover.core.actors import Actor, SystemActor
from handover.core.errors import NotFound
from handover.org import permissions as perms
from handover.org.models import Engagement, Role, Site
from handover.org.selectors import grants_for, has_capability
from handover.registers import catalogue
from handover.registers.models import (
    Form,
    FormState,
    Signature,
    SignatureKind,
)
from handover.registers.selectors.common import _scoped_sites
from handover.registers.signing import ARCHIVERS, ROW_SIGNERS, footer_roles


def form_list(
    *,
    user: Actor,
    engagement: Engagement,
    register_no: int | None = None,
    site: Site | None = None,
    state: str = "",
    phase: str = "",
    capability: str = perms.VIEW_REGISTERS,
    include_superseded: bool = False,
) -> QuerySet[Form]:
    """Forms at the user's sites; ``site`` includes its subtree (a 营业部 and its 服务部)."""
    sites = _scoped_sites(user=user, engagement=engagement, capability=capability)
    if sites is None:
        return Form.objects.none()
    qs = Form.objects.filter(engagement=engagement, site__in=sites).select_related("site")
    if not include_superseded:
        qs = qs.filter(is_current=True)
    if register_no is not None:
        qs = qs.filter(register_no=register_no)
    elif phase:
        qs = qs.filter(register_no__in=[s.number for s in catalogue.REGISTERS if s.phase == phase])
    if site is not None:
        qs = qs.filter(site__path__startswith=site.path)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-form_date", "-pk")


def form_get(
    *, user: Actor, engagement: Engagement, form_id: int, capability: str = perms.VIEW_REGISTERS
) -> Form:
    """One form (any version) at the user's sites."""
    form = (
        form_list(user=user, engagement=engagement, capability=capability, include_superseded=True)
        .filter(pk=form_id)
        .select_related("engagement", "previous")
        .first()
    )
    if form is None:
        raise NotFound(_("No register form %(id)s is open to you here.") % {"id": form_id}, field="form")
    return form


def form_versions(*, form: Form) -> list[Form]:
    """Every version of a form (same 编号), oldest first, with their footer signatures."""
    return list(
        Form.objects.filter(engagement_id=form.engagement_id, form_no=form.form_no)
        .prefetch_related(Prefetch("signatures", queryset=Signature.objects.select_related("person")))
        .order_by("version")
    )


def roles_at(*, user: Actor, engagement: Engagement, site: Site) -> set[str]:
    """The roles the user holds at ``site`` (directly, above it, or engagement-wide)."""
    return {
        g.role
        for g in grants_for(user)
        if g.engagement_id == engagement.pk and (not g.site_path or site.path.startswith(g.site_path))
    }


@dataclass
class FormActions:
    """What the user may try on a form: buttons to show. The services decide, and refuse with a reason."""

    fill: bool
    submit: bool
    correct: bool
    archive: bool
    footer_roles: list[str]
    row_kinds: list[str]


def form_actions(*, user: Actor, form: Form) -> FormActions:
    """The actions to offer on ``form`` to this user, from the roles they hold at its site."""
    if isinstance(user, SystemActor):
        return FormActions(False, False, False, False, [], [])
    engagement, site = form.engagement, form.site
    can_fill = has_capability(user=user, engagement=engagement, capability=perms.FILL_REGISTERS, site=site)
    open_ = form.is_current and form.state in (FormState.DRAFT, FormState.SUBMITTED)
    held = roles_at(user=user, engagement=engagement, site=site)
    given = {s.role for s in form.signatures.all()}
    footer = [
        role
        for role in footer_roles(form.register_no)
        if role in held and role not in given and form.state == FormState.SUBMITTED and form.is_current
    ]
    kinds: list[str] = []
    if catalogue.get(form.register_no).dual_signature and open_:
        kinds = [kind for kind, roles in ROW_SIGNERS.items() if roles & held]
    return FormActions(
        fill=can_fill and open_,
        submit=can_fill and form.is_current and form.state == FormState.DRAFT,
        correct=can_fill and form.is_current and form.state == FormState.SIGNED,
        archive=bool(held & ARCHIVERS) and form.is_current and form.state == FormState.SIGNED,
        footer_roles=footer,
        row_kinds=kinds,
    )


def signature_kind_label(kind: str) -> str:
    return str(SignatureKind(kind).label)


def role_label(role: str) -> str:
    return str(Role(role).label)
