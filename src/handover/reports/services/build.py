"""Building the 表24 package (第二十七条第4项): 表24 compiled and signed, the annexes exported, sealed and zipped."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core.actors import Actor, SystemActor, actor_user
from handover.core.errors import DomainError
from handover.core.filestore import Digest, file_digest
from handover.notifications.links import Link
from handover.notifications.services import notify
from handover.org import permissions as perms
from handover.org.models import Engagement, Person, Phase, Role, Site
from handover.org.selectors import require, roles_in
from handover.registers import catalogue, seeding
from handover.registers import services as registers
from handover.registers.io import exporting
from handover.registers.io.exporting import register_export, site_label
from handover.registers.io.frame import footer_labels
from handover.registers.models import Form
from handover.reports import events, topics, verify
from handover.reports.models import HandoverPackage
from handover.reports.services.common import (
    ANNEXES,
    BOTH,
    DONE_REGISTERS,
    FROZEN,
    STATE_ZH,
    SiteNotDone,
    _actor_name,
)
from handover.workflow.models import PhaseTransition, StepNote


def _export_pair(
    actor: Actor,
    engagement: Engagement,
    form: Form,
    folder: Path,
    relative: str,
    formats: tuple[str, ...] = BOTH,
) -> list[str]:
    """表N's form as xlsx and PDF under ``relative`` (without suffix); returns the paths written."""
    written = []
    for fmt in formats:
        path = folder / f"{relative}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        register_export(
            actor=actor,
            engagement=engagement,
            register_no=form.register_no,
            fmt=fmt,
            out=str(path),
            form=form,
        )
        written.append(f"{relative}.{fmt}")
    return written


def _refuse_unless_compiler(actor: Actor, engagement: Engagement) -> None:
    """第二十七条第4项: 技术组 compiles 表24 and signs it as such, so the builder is a 技术组 member's login
    (a system actor or a login without a person in the engagement cannot sign)."""
    member = (
        not isinstance(actor, SystemActor)
        and Role.TECH_GROUP in roles_in(user=actor, engagement=engagement)
        and Person.objects.filter(engagement=engagement, user=actor_user(actor), is_active=True).exists()
    )
    if not member:
        raise DomainError(
            _(
                "表24 is signed by the 技术组 member who compiles it (第二十七条第4项): build the package as a "
                "技术组 login (handover package build --user LOGIN)."
            ),
            field="user",
        )


def _handover_period(engagement: Engagement, now: datetime) -> tuple[datetime, datetime]:
    """表24's 交接开始: the move into 交接期 where it is recorded, else the opening of the first handover list
    (表5–23); 交接结束: now, as 技术组 sums the handover up once it is over (第二十七条第3项)."""
    moved = PhaseTransition.objects.filter(engagement=engagement, to_phase=Phase.HANDOVER).order_by(
        "signed_at"
    )
    opened = Form.objects.filter(engagement=engagement, register_no__in=DONE_REGISTERS).order_by("created_at")
    start = (
        moved.values_list("signed_at", flat=True).first()
        or opened.values_list("created_at", flat=True).first()
        or now
    )
    return min(start, now), now


def _roots(engagement: Engagement) -> list[Site]:
    """The engagement's active root sites (总部), where 表24 is compiled; refused when there is none."""
    roots = list(
        Site.objects.filter(engagement=engagement, parent__isnull=True, is_active=True).order_by("path")
    )
    if not roots:
        raise DomainError(_("The engagement has no active 总部 site to compile 表24 at."), field="site")
    return roots


def _table24_lines(engagement: Engagement) -> dict[int, list[dict[str, Any]]]:
    """表24's lines at each root site, computed now (when the build chooses its annexes) without writing."""
    return {
        root.pk: seeding.computed_lines(
            engagement=engagement, site=root, register_no=catalogue.HANDOVER_SUMMARY
        )
        for root in _roots(engagement)
    }


def _table24(
    actor: Actor, engagement: Engagement, residual_risk: str, summary: str, now: datetime,
    lines: dict[int, list[dict[str, Any]]] | None = None,
) -> list[Form]:  # fmt: skip
    """表24 at each root site (总部) of the engagement over its whole subtree — its ``lines`` computed when the
    build chose its annexes, else now — submitted and signed by the acting 技术组 member as its compiler
    (第二十七条第4项); refused unless each ends signed."""
    roots = _roots(engagement)
    start, end = _handover_period(engagement, now)
    header = {
        "summary": summary,
        "residual_risks": residual_risk or "无",
        "handover_start": timezone.localtime(start).isoformat(timespec="seconds"),
        "handover_end": timezone.localtime(end).isoformat(timespec="seconds"),
    }
    forms = []
    for root in roots:
        form = seeding.computed_form_build(
            actor=actor,
            engagement=engagement,
            site=root,
            register_no=catalogue.HANDOVER_SUMMARY,
            form_date=timezone.localdate(now),
            header=header,
            lines=None if lines is None else lines.get(root.pk, []),
        )
        registers.form_submit(actor=actor, form=form)
        registers.form_sign(actor=actor, form=form)
        _refuse_unless_signed(form)
        forms.append(form)
    return forms


def _refuse_unless_signed(form: Form) -> None:
    """No package carries a 表24 that is not signed (第二十七条第4项)."""
    if form.state in FROZEN:
        return
    given = set(form.signatures.values_list("role", flat=True))
    still = [label for role, label in footer_labels(catalogue.HANDOVER_SUMMARY) if role not in given]
    raise DomainError(
        _("表24 %(form)s is not signed yet (it still needs %(roles)s), so no package is built.")
        % {"form": form.form_no, "roles": "、".join(still)},
        field="table24",
    )


def _table24_formats(form: Form) -> tuple[str, ...]:
    """xlsx and PDF; xlsx alone when 表24 has more lines than a PDF takes (a few hundred sites)."""
    return BOTH if form.rows.filter(is_current=True).count() <= exporting.MAX_PDF_ROWS else ("xlsx",)


def _table24_export(actor: Actor, engagement: Engagement, form: Form, folder: Path) -> dict[str, Any]:
    """The signed 表24 exported into ``table24/``, and package.json's account of it."""
    formats = _table24_formats(form)
    files = _export_pair(actor, engagement, form, folder, f"table24/{form.form_no}-v{form.version}", formats)
    entry = _table24_entry(form, files)
    if formats != BOTH:
        entry["pdf_omitted"] = _(
            "More than %(max)d lines: 表24 is packaged as xlsx only (print it from the xlsx)."
        ) % {"max": exporting.MAX_PDF_ROWS}
    return entry


def _table24_entry(form: Form, files: list[str]) -> dict[str, Any]:
    """package.json's account of one 表24: its version, state and who signed it, and its files."""
    labels = dict(footer_labels(catalogue.HANDOVER_SUMMARY))
    return {
        "form": form.form_no,
        "version": form.version,
        "site": site_label(form.site),
        "state": STATE_ZH[form.state],
        "signed_by": [
            {"role": labels.get(s.role, s.role), "name": s.person.name,
             "signed_at": s.signed_at.isoformat(timespec="seconds")}
            for s in form.signatures.select_related("person").order_by("signed_at", "pk")
        ],
        "files": files,
    }  # fmt: skip


def _metadata(
    *, actor: Actor, engagement: Engagement, now: datetime, residual_risk: str, not_done: list[SiteNotDone],
    table24: list[dict[str, Any]], annexes: list[Form], unsigned: list[str], algorithm: str,
    chosen_at: datetime | None = None, keys: dict[int, str] | None = None, later: list[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """package.json. 第十一条: the firm's real name and D (托管时间) only once the phase allows it (after 准备期).
    ``chosen_at``: when the annexed versions were chosen; ``keys``: each one's content key (the annex store's);
    ``later``: the versions signed after they were chosen, which the package does not annex."""
    data: dict[str, Any] = {
        "format": verify.METADATA_FORMAT,
        "engagement": {"code": engagement.code, "code_name": engagement.code_name},
        "phase": engagement.phase,
        "built_at": now.isoformat(timespec="seconds"),
        "built_by": _actor_name(actor),
        "algorithm": algorithm,
        "residual_risk": residual_risk,
        "sites_not_done": [{"site": site_label(s.site), "missing": s.missing} for s in not_done],
        "table24": table24,
        "annexes": [
            {"site": site_label(f.site), "register": f.register_no, "form": f.form_no, "version": f.version}
            | ({"content_key": keys[f.pk]} if keys else {})
            for f in annexes
        ],
        "unsigned_not_annexed": unsigned,
    }
    if chosen_at is not None:
        data["annexes_chosen_at"] = chosen_at.isoformat(timespec="seconds")
        data["signed_after_chosen_not_annexed"] = later or []
    if engagement.phase != Phase.PREPARATION:
        data["engagement"]["firm_name"] = engagement.firm_name
        data["disposal_date"] = engagement.disposal_date.isoformat()
    return data


def _unsigned(engagement: Engagement, annexes: list[Form]) -> list[str]:
    """Current forms with no signed version: named in the metadata, not annexed."""
    have = {f.form_no for f in annexes}
    current = Form.objects.filter(engagement=engagement, is_current=True, register_no__in=ANNEXES)
    return [
        f"表{n} {no} v{v}"
        for n, no, v in current.exclude(form_no__in=have)
        .order_by("register_no", "form_no")
        .values_list("register_no", "form_no", "version")
    ]


def _refuse_unless_done(not_done: list[SiteNotDone], residual_risk: str) -> None:
    if not_done and not residual_risk.strip():
        raise DomainError(
            _("%(n)d site(s) are not done, so the package needs a stated residual-risk reason: %(sites)s")
            % {"n": len(not_done), "sites": " | ".join(map(str, not_done))},
            field="residual_risk",
        )


@dataclass
class _Built:
    """What a build put into its package, before it is recorded."""

    metadata: dict[str, Any]
    annexes: int
    reused: int
    checkpoint_seq: int
    table24: list[Form]


def _n03_summary(engagement: Engagement) -> str:
    """The latest note on the engagement's N-03 (交接工作总结): 技术组's written summary to the working group."""
    note = (
        StepNote.objects.filter(step__engagement=engagement, step__step_id="N-03")
        .order_by("-created_at", "-pk")
        .values_list("text", flat=True)
        .first()
    )
    return (note or "").strip()


def _record(
    actor: Actor, engagement: Engagement, zipped: Digest, manifest: bytes, count: int, built: _Built
) -> HandoverPackage:
    """The package row and its audit event (digest, builder, time); ``zipped`` is the zip's SHA-256 and size,
    taken by the caller (jobs._Head: mostly before the final transaction)."""
    digest = zipped.hexdigest
    meta = built.metadata
    now = datetime.fromisoformat(meta["built_at"])
    package = HandoverPackage.objects.create(
        engagement=engagement,
        file_name=f"{engagement.code}-package-{now:%Y%m%dT%H%M%S}-{digest[:8]}.zip",
        size=zipped.size,
        digest=digest,
        manifest_digest=hashlib.sha256(manifest).hexdigest(),
        algorithm=meta["algorithm"],
        files=count,
        residual_risk=meta["residual_risk"],
        sites_not_done=meta["sites_not_done"],
        checkpoint_seq=built.checkpoint_seq,
        built_by=actor_user(actor),
        built_by_name=_actor_name(actor),
        built_at=now,
    )
    package.table24.set(built.table24)
    event_record(
        actor=actor,
        action=events.PACKAGE_BUILD,
        engagement_id=engagement.pk,
        obj=package,
        after={
            "file": package.file_name,
            "digest": digest,
            "manifest_digest": package.manifest_digest,
            "algorithm": package.algorithm,
            "files": count,
            "annexes": built.annexes,
            "annexes_reused": built.reused,
            "checkpoint_seq": built.checkpoint_seq,
            "table24": [f"{f.form_no} v{f.version}" for f in built.table24],
            "sites_not_done": len(meta["sites_not_done"]),
            "residual_risk": package.residual_risk,
        },
    )
    notify(
        actor=actor,
        engagement=engagement,
        topic=topics.PACKAGE_BUILT,
        title=_("A handover package of %(code)s waits for the working group's approval")
        % {"code": engagement.code_name},
        link=Link("reports:package_approve", code=engagement.code, package_id=package.pk),
        now=now,
    )
    return package


def package_path(package: HandoverPackage) -> Path:
    return Path(settings.HANDOVER_PACKAGE_DIR) / package.engagement.code / package.file_name


def package_file_open(
    *, actor: Actor, package: HandoverPackage, capability: str = perms.MANAGE_PACKAGES
) -> Path:
    """The package file for a download, after checking it is the one recorded; the reading is audited. 技术组
    downloads it to send it; the working group (``capability`` approve_package) to read what it approves."""
    if capability not in (perms.MANAGE_PACKAGES, perms.APPROVE_PACKAGE):
        raise ValueError(capability)
    require(user=actor, engagement=package.engagement, capability=capability)
    path = package_path(package)
    try:
        with path.open("rb") as handle:
            digest = file_digest(handle).hexdigest
    except OSError as exc:
        raise DomainError(
            _("The package file %(file)s cannot be read (%(error)s).") % {"file": path, "error": exc.strerror}
        ) from exc
    if digest != package.digest:
        raise DomainError(
            _("The package file %(file)s is not the one built (its SHA-256 changed): report this to 技术组.")
            % {"file": package.file_name}
        )
    with transaction.atomic():
        event_record(
            actor=actor,
            action=events.PACKAGE_DOWNLOAD,
            engagement_id=package.engagement_id,
            obj=package,
            after={"file": package.file_name, "digest": package.digest},
        )
    return path
