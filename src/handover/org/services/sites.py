"""Writes to the site tree: create, update, deactivate, each parent checked against the levels it may hold."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from handover.audit.services import changed, event_record, snapshot
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import events
from handover.org import permissions as perms
from handover.org.models import (
    ALLOWED_PARENTS,
    Engagement,
    Site,
    SiteLevel,
)
from handover.org.selectors import require
from handover.org.services.common import _deactivate


def _level_names(levels: tuple[str, ...]) -> str:
    """Level names joined the way the language lists things (、 in Chinese, \", \" in English)."""
    return pgettext("list separator", ", ").join(str(SiteLevel(a).label) for a in levels)


def _check_parent(
    *, engagement: Engagement, level: str, parent: Site | None, site: Site | None = None
) -> None:
    allowed = ALLOWED_PARENTS[level]
    label = SiteLevel(level).label
    if not allowed:
        if parent is not None:
            raise DomainError(_("A head office has no parent site."), field="parent")
        others = Site.objects.filter(engagement=engagement, level=SiteLevel.HQ)
        if site is not None:
            others = others.exclude(pk=site.pk)
        if others.exists():
            raise DomainError(_("This engagement already has a head office."), field="level")
        return
    if parent is None:
        names = _level_names(allowed)
        raise DomainError(
            _("A %(level)s needs a parent site: %(allowed)s.") % {"level": label, "allowed": names},
            field="parent",
        )
    if parent.engagement_id != engagement.pk:
        raise DomainError(_("The parent site belongs to another engagement."), field="parent")
    if parent.level not in allowed:
        names = _level_names(allowed)
        raise DomainError(
            _("A %(level)s cannot sit under a %(parent_level)s; its parent must be a %(allowed)s.")
            % {"level": label, "parent_level": parent.get_level_display(), "allowed": names},
            field="parent",
        )
    if not parent.is_active:
        raise DomainError(
            _("The parent site %(name)s is deactivated.") % {"name": parent.name}, field="parent"
        )
    if site is not None and parent.path.startswith(site.path):
        raise DomainError(_("A site cannot be moved under itself or its own subtree."), field="parent")


def site_create(
    *,
    actor: Actor,
    engagement: Engagement,
    code: str,
    name: str,
    level: str,
    parent: Site | None = None,
    address: str = "",
) -> Site:
    """Add a site under a parent of an allowed level (总部 → 区域中心 → 营业部 → 服务部)."""
    require(user=actor, engagement=engagement, capability=perms.MANAGE_SITES, site=parent)
    _check_parent(engagement=engagement, level=level, parent=parent)
    code = code.strip()
    if Site.objects.filter(engagement=engagement, code=code).exists():
        raise DomainError(
            _("The site code %(code)s is used already in this engagement.") % {"code": code}, field="code"
        )
    with transaction.atomic():
        site = Site.objects.create(
            engagement=engagement,
            code=code,
            name=name.strip(),
            level=level,
            parent=parent,
            address=address,
            path="",
        )
        site.path = f"{parent.path if parent else '/'}{site.pk}/"
        site.save(update_fields=["path"])
        event_record(
            actor=actor,
            action=events.SITE_CREATE,
            engagement_id=engagement.pk,
            site_id=site.pk,
            obj=site,
            after=snapshot(site),
        )
    return site


def site_update(
    *, actor: Actor, site: Site, name: str, code: str, parent: Site | None, address: str = ""
) -> Site:
    """Rename or move a site; moving rewrites the paths of its whole subtree."""
    engagement = site.engagement
    require(user=actor, engagement=engagement, capability=perms.MANAGE_SITES, site=site)
    if parent is not None:
        require(user=actor, engagement=engagement, capability=perms.MANAGE_SITES, site=parent)
    _check_parent(engagement=engagement, level=site.level, parent=parent, site=site)
    if Site.objects.filter(engagement=engagement, code=code).exclude(pk=site.pk).exists():
        raise DomainError(
            _("The site code %(code)s is used already in this engagement.") % {"code": code}, field="code"
        )
    before = snapshot(site)
    with transaction.atomic():
        old_path = site.path
        site.name, site.code, site.parent, site.address = name.strip(), code.strip(), parent, address
        site.path = f"{parent.path if parent else '/'}{site.pk}/"
        site.save()
        if site.path != old_path:
            for child in Site.objects.filter(path__startswith=old_path).exclude(pk=site.pk):
                child.path = site.path + child.path[len(old_path) :]
                child.save(update_fields=["path"])
        old, new = changed(before, snapshot(site))
        event_record(
            actor=actor,
            action=events.SITE_UPDATE,
            engagement_id=engagement.pk,
            site_id=site.pk,
            obj=site,
            before=old,
            after=new,
        )
    return site


def site_deactivate(*, actor: Actor, site: Site) -> None:
    """Deactivate a site; refused while it has active sub-sites, so no branch is left without its parent."""
    require(user=actor, engagement=site.engagement, capability=perms.MANAGE_SITES, site=site)
    active_children = site.children.filter(is_active=True).count()
    if active_children:
        raise DomainError(
            ngettext(
                "%(name)s still has %(n)d active sub-site; deactivate or move it first.",
                "%(name)s still has %(n)d active sub-sites; deactivate or move them first.",
                active_children,
            )
            % {"name": site.name, "n": active_children},
            field="site",
        )
    _deactivate(actor=actor, instance=site, action=events.SITE_DEACTIVATE, site_id=site.pk)
