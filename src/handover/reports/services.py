"""Writes of the 表24 handover package (第二十七条第3、4项; registers.md §5.4 N-03/N-04).

``package_build`` computes 表24, submits it and signs it as compiled (编制) by the acting 技术组 member, exports
that signed version and every annexed register's current signed version per site in the official frame (xlsx
and PDF), takes a signed audit checkpoint, writes the manifest of every file and signs it with the server's
package key, as one zip. A package whose 表24 is not signed is not built. The working group's approval and the
distribution are recorded afterwards against the package and travel as a signed addendum naming the package's
digest and its 表24 (docs/package.md says why an addendum, not a re-issue nor a signature on 表24).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.accounts.enrolment import credential_is_fresh
from handover.accounts.services import totp_verify
from handover.audit import checkpoint
from handover.audit.services import checkpoint_write, event_record
from handover.core import faults
from handover.core.actors import SystemActor
from handover.core.errors import DomainError
from handover.core.filestore import file_digest
from handover.notifications.services import notify
from handover.org import permissions as perms
from handover.org.models import Engagement, Person, Phase, Role, Site, SiteLevel
from handover.org.selectors import require, roles_in, working_group_member
from handover.registers import computed, seeding
from handover.registers import services as registers
from handover.registers.io import exporting
from handover.registers.io.exporting import register_export, site_label
from handover.registers.io.frame import footer_labels
from handover.registers.models import Form, FormState
from handover.reports import events, topics, verify
from handover.reports.models import HandoverPackage, PackageApproval, PackageDistribution, Recipient
from handover.workflow import gates
from handover.workflow.models import CaseRiskAcceptance, CaseState, PhaseTransition, StepNote

# 表5–23: the handover-day lists a site must have signed to be done (表24 itself and 表39 excluded).
DONE_REGISTERS = tuple(range(5, 24))
ANNEXES = tuple(n for n in computed.ANNEXED if n != 24)
FROZEN = (FormState.SIGNED, FormState.ARCHIVED)
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


def _actor_name(actor: Any) -> str:
    return actor.audit_name if isinstance(actor, SystemActor) else actor.get_username()


def _export_pair(
    actor: Any,
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


def _refuse_unless_compiler(actor: Any, engagement: Engagement) -> None:
    """第二十七条第4项: 技术组 compiles 表24 and signs it as such, so the builder is a 技术组 member's login
    (a system actor or a login without a person in the engagement cannot sign)."""
    member = (
        not isinstance(actor, SystemActor)
        and Role.TECH_GROUP in roles_in(user=actor, engagement=engagement)
        and Person.objects.filter(engagement=engagement, user=actor, is_active=True).exists()
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


def _table24(
    actor: Any, engagement: Engagement, residual_risk: str, summary: str, now: datetime
) -> list[Form]:
    """表24 computed now at each root site (总部) of the engagement over its whole subtree, submitted and
    signed by the acting 技术组 member as its compiler (第二十七条第4项); refused unless each ends signed."""
    roots = list(
        Site.objects.filter(engagement=engagement, parent__isnull=True, is_active=True).order_by("path")
    )
    if not roots:
        raise DomainError(_("The engagement has no active 总部 site to compile 表24 at."), field="site")
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
            register_no=24,
            form_date=timezone.localdate(now),
            header=header,
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
    still = [label for role, label in footer_labels(24) if role not in given]
    raise DomainError(
        _("表24 %(form)s is not signed yet (it still needs %(roles)s), so no package is built.")
        % {"form": form.form_no, "roles": "、".join(still)},
        field="table24",
    )


def _table24_formats(form: Form) -> tuple[str, ...]:
    """xlsx and PDF; xlsx alone when 表24 has more lines than a PDF takes (a few hundred sites)."""
    return BOTH if form.rows.filter(is_current=True).count() <= exporting.MAX_PDF_ROWS else ("xlsx",)


def _table24_export(actor: Any, engagement: Engagement, form: Form, folder: Path) -> dict[str, Any]:
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
    labels = dict(footer_labels(24))
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
    *, actor: Any, engagement: Engagement, now: datetime, residual_risk: str, not_done: list[SiteNotDone],
    table24: list[dict[str, Any]], annexes: list[Form], unsigned: list[str], algorithm: str,
) -> dict[str, Any]:  # fmt: skip
    """package.json. 第十一条: the firm's real name and D (托管时间) only once the phase allows it (after 准备期)."""
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
            for f in annexes
        ],
        "unsigned_not_annexed": unsigned,
    }
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


def _seal(folder: Path, algorithm: str, extra: dict[str, Any]) -> tuple[bytes, int]:
    """manifest.json over every file in ``folder`` and SIGNATURE.json over it; returns (manifest, count)."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            digest = file_digest(handle, algorithm)
        files[path.relative_to(folder).as_posix()] = (digest.size, digest.hexdigest)
    manifest = verify.manifest_bytes(algorithm=algorithm, files=files, extra=extra)
    (folder / verify.MANIFEST).write_bytes(manifest)
    key = _package_key()
    (folder / verify.SIGNATURE).write_bytes(verify.signature_bytes(key, manifest))
    return manifest, len(files)


def _package_key() -> Ed25519PrivateKey:
    """The server's package signing key, kept outside the database (HANDOVER_PACKAGE_KEY)."""
    path = Path(settings.HANDOVER_PACKAGE_KEY)
    try:
        return checkpoint.load_or_create_key(path)
    except (OSError, ValueError, checkpoint.CheckpointError) as exc:
        raise DomainError(
            _("The package key %(file)s cannot be read as an Ed25519 private key: %(error)s")
            % {"file": path, "error": type(exc).__name__}
        ) from None


def _zip(folder: Path, destination: Path) -> None:
    import zipfile

    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in (verify.MANIFEST, verify.SIGNATURE):
            archive.write(folder / name, name)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            if name not in (verify.MANIFEST, verify.SIGNATURE):
                archive.write(path, name)


def _refuse_unless_done(not_done: list[SiteNotDone], residual_risk: str) -> None:
    if not_done and not residual_risk.strip():
        raise DomainError(
            _("%(n)d site(s) are not done, so the package needs a stated residual-risk reason: %(sites)s")
            % {"n": len(not_done), "sites": " | ".join(map(str, not_done))},
            field="residual_risk",
        )


@dataclass
class _Built:
    """What a build wrote into its folder, before it is sealed and recorded."""

    metadata: dict[str, Any]
    annexes: int
    checkpoint_seq: int
    table24: list[Form]


def package_build(
    *,
    actor: Any,
    engagement: Engagement,
    residual_risk: str = "",
    algorithm: str = "sha256",
    summary: str = "",
) -> HandoverPackage:
    """Build and record the 表24 handover package as the acting 技术组 member, who signs 表24 as its compiler;
    refused while sites are not done unless a residual-risk reason is stated, and unless 表24 ends signed
    (第二十七条第4项). One transaction: the check, 表24 and its signature, the exports' events, the checkpoint
    and the package row commit together, and no file is left when anything fails."""
    require(user=actor, engagement=engagement, capability=perms.MANAGE_PACKAGES)
    _refuse_unless_compiler(actor, engagement)
    if algorithm not in verify.ALGORITHMS:
        raise DomainError(_("Hash the package with sha256 or sm3."), field="algorithm")
    store = Path(settings.HANDOVER_PACKAGE_DIR) / engagement.code
    store.mkdir(parents=True, exist_ok=True)
    final: list[Path] = []
    try:
        with tempfile.TemporaryDirectory(dir=store, prefix=".build-") as tmp, transaction.atomic():
            folder = Path(tmp) / "package"
            built = _contents(actor, engagement, folder, residual_risk.strip(), summary.strip(), algorithm)
            manifest, count = _seal(folder, algorithm, {"engagement": engagement.code,
                                                         "built_at": built.metadata["built_at"]})  # fmt: skip
            zipped = Path(tmp) / "package.zip"
            _zip(folder, zipped)
            faults.point("reports.package.after_files")  # the zip built, no record yet
            package = _record(actor, engagement, zipped, manifest, count, built)
            final.append(store / package.file_name)
            shutil.move(zipped, final[0])
            faults.point("reports.package.before_commit")  # the file in place, its record not committed
    except BaseException:
        for stray in final:  # the file was in place but its row did not commit: nothing half written
            stray.unlink(missing_ok=True)
        raise
    return package


def _contents(
    actor: Any, engagement: Engagement, folder: Path, residual_risk: str, summary: str, algorithm: str
) -> _Built:
    """Everything but the manifest and its signature: 表24, the annexes, package.json, the checkpoint."""
    not_done = sites_not_done(engagement)
    _refuse_unless_done(not_done, residual_risk)
    now = timezone.now()
    summary = summary or _n03_summary(engagement)
    if not summary:
        # 第二十七条第3项 「以书面形式向托管工作组汇报」: 表24 carries 技术组's written summary, never a count
        # (trace C16).
        raise DomainError(
            _(
                "Write 表24's overall summary of the handover (第二十七条第3项), or record it as a note on step "
                "N-03 (交接工作总结), where the build takes it from."
            ),
            field="summary",
        )
    table24 = _table24(actor, engagement, residual_risk, summary, now)
    entries = [_table24_export(actor, engagement, form, folder) for form in table24]
    annexes = annexed_forms(engagement)
    for form in annexes:
        _export_pair(
            actor, engagement, form, folder, f"annexes/{form.site.code}/{form.form_no}-v{form.version}"
        )
    metadata = _metadata(
        actor=actor, engagement=engagement, now=now, residual_risk=residual_risk, not_done=not_done,
        table24=entries, annexes=annexes, unsigned=_unsigned(engagement, annexes), algorithm=algorithm,
    )  # fmt: skip
    text = json.dumps(metadata, ensure_ascii=False, indent=1) + "\n"
    (folder / verify.METADATA).write_text(text, encoding="utf-8")
    # Taken last, so the signed head covers 表24's creation and every export event of this build.
    seq = checkpoint_write(actor=actor, path=folder / verify.CHECKPOINT)[1]
    return _Built(metadata, len(annexes), seq, table24)


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
    actor: Any, engagement: Engagement, zipped: Path, manifest: bytes, count: int, built: _Built
) -> HandoverPackage:
    """The package row and its audit event (digest, builder, time)."""
    with zipped.open("rb") as handle:
        digest = file_digest(handle).hexdigest
    meta = built.metadata
    now = datetime.fromisoformat(meta["built_at"])
    package = HandoverPackage.objects.create(
        engagement=engagement,
        file_name=f"{engagement.code}-package-{now:%Y%m%dT%H%M%S}-{digest[:8]}.zip",
        size=zipped.stat().st_size,
        digest=digest,
        manifest_digest=hashlib.sha256(manifest).hexdigest(),
        algorithm=meta["algorithm"],
        files=count,
        residual_risk=meta["residual_risk"],
        sites_not_done=meta["sites_not_done"],
        checkpoint_seq=built.checkpoint_seq,
        built_by=None if isinstance(actor, SystemActor) else actor,
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
        link=f"/e/{engagement.code}/packages/{package.pk}/approve/",
        now=now,
    )
    return package


def package_path(package: HandoverPackage) -> Path:
    return Path(settings.HANDOVER_PACKAGE_DIR) / package.engagement.code / package.file_name


def package_file_open(
    *, actor: Any, package: HandoverPackage, capability: str = perms.MANAGE_PACKAGES
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


def package_approve(
    *, actor: Any, package: HandoverPackage, totp_code: str, reference: str = "", residual_risk_read: bool = False,
) -> PackageApproval:  # fmt: skip
    """第二十七条第4项 「技术组…编制交接工作清单，报托管工作组审批」: a member of the 托管工作组 approves the package in
    person (an observer for the working group, with a fresh second-factor code), never 技术组 on its behalf (trace
    C14). Refused while an exception case is open (第二十七条第3项 「交接工作完成之后」, C15), for a package that a
    newer one supersedes, and, when sites were not done, until the approver says they read the residual risk. Once
    per package; the approval time is the server's."""
    engagement = package.engagement
    require(user=actor, engagement=engagement, capability=perms.APPROVE_PACKAGE)
    person = _working_group_member(actor, engagement)
    if PackageApproval.objects.filter(package=package).exists():
        raise DomainError(_("This package is approved already."), field="totp_code")
    newest = HandoverPackage.objects.filter(engagement=engagement).order_by("-built_at", "-pk").first()
    if newest is not None and newest.pk != package.pk:
        raise DomainError(
            _("A newer package (%(file)s) supersedes this one: approve that one.")
            % {"file": newest.file_name},
            field="package",
        )
    still_open = gates.open_case_labels(engagement)
    if still_open:
        raise DomainError(gates.open_cases_refusal(still_open), field="package")
    if package.residual_risk and not residual_risk_read:
        raise DomainError(
            _(
                "Sites were not done when the package was built: read its residual risk and say so to approve it."
            ),
            field="residual_risk_read",
        )
    login = get_user_model().objects.get(pk=actor.pk)  # the stored last-used step: a code works once
    if credential_is_fresh(user=login):
        raise DomainError(
            _(
                "This login's password or second factor was set or reset in the last 24 hours: an approval "
                "waits until it is no longer new (docs/access-policy.md)."
            ),
            field="totp_code",
        )
    totp_verify(user=login, code=totp_code)
    now = timezone.now()
    with transaction.atomic():
        approval = PackageApproval.objects.create(
            package=package, approver=person.name, person=person, approved_at=now, reference=reference.strip(),
            residual_risk_read=bool(package.residual_risk), recorded_by=actor,
        )  # fmt: skip
        event_record(
            actor=actor,
            action=events.PACKAGE_APPROVE,
            engagement_id=engagement.pk,
            obj=approval,
            after={"package": package.digest, "approver": person.pk, "approved_at": now.isoformat(),
                   "reference": approval.reference, "residual_risk_read": approval.residual_risk_read},
        )  # fmt: skip
        notify(
            actor=actor,
            engagement=engagement,
            topic=topics.PACKAGE_APPROVED,
            title=_("The working group approved the handover package of %(code)s")
            % {"code": engagement.code_name},
            link=f"/e/{engagement.code}/packages/{package.pk}/",
            now=now,
        )
    return approval


def _working_group_member(actor: Any, engagement: Engagement) -> Person:
    """The acting login's person, who must observe this engagement for the 托管工作组 (not for the 证监局)."""
    person = working_group_member(user=actor, engagement=engagement)
    if person is None:
        raise DomainError(
            _(
                "Only a member of the custody working group (托管工作组) approves the package (第二十七条第4项)."
            ),
            field="user",
        )
    return person


def package_distribution_record(
    *, actor: Any, package: HandoverPackage, recipient: str, sent_at: datetime, site: Site | None = None,
    means: str = "",
) -> PackageDistribution:  # fmt: skip
    """One sending of the approved package: 证监局, 托管工作组, 被托管公司, or a 营业部 (第二十七条第4项)."""
    require(user=actor, engagement=package.engagement, capability=perms.MANAGE_PACKAGES)
    _check_distribution(package, recipient, sent_at, site)
    with transaction.atomic():
        sent = PackageDistribution.objects.create(
            package=package,
            recipient=recipient,
            site=site,
            sent_at=sent_at,
            means=means.strip(),
            recorded_by=actor,
        )
        event_record(
            actor=actor,
            action=events.PACKAGE_DISTRIBUTE,
            engagement_id=package.engagement_id,
            site_id=site.pk if site else None,
            obj=sent,
            after={"package": package.digest, "recipient": recipient, "sent_at": sent_at.isoformat(),
                   "means": sent.means},
        )  # fmt: skip
    return sent


def _check_distribution(
    package: HandoverPackage, recipient: str, sent_at: datetime, site: Site | None
) -> None:
    approval = PackageApproval.objects.filter(package=package).first()
    if approval is None:
        raise DomainError(
            _("The package is sent only after the working group approves it (第二十七条第4项).")
        )
    if sent_at < approval.approved_at:
        raise DomainError(_("It cannot have been sent before it was approved."), field="sent_at")
    if recipient not in Recipient.values:
        raise DomainError(_("Choose a recipient."), field="recipient")
    if recipient == Recipient.BRANCH:
        if site is None or site.engagement_id != package.engagement_id or site.level != SiteLevel.BRANCH:
            raise DomainError(_("Sending to a branch names the branch (营业部)."), field="site")
        taken = PackageDistribution.objects.filter(package=package, site=site).exists()
    else:
        site = None
        taken = PackageDistribution.objects.filter(package=package, recipient=recipient).exists()
    if taken:
        raise DomainError(_("This sending is recorded already."), field="recipient")


def _addendum_body(package: HandoverPackage) -> dict[str, Any]:
    approval = PackageApproval.objects.filter(package=package).first()
    distributions: QuerySet[PackageDistribution] = package.distributions.select_related("site")
    return {
        "format": verify.ADDENDUM_FORMAT,
        "package_file": package.file_name,
        "package_sha256": package.digest,
        "manifest_sha256": package.manifest_digest,
        "table24": [f"{f.form_no} v{f.version}" for f in package.table24.order_by("form_no")],
        "approval": None
        if approval is None
        else {
            "approver": approval.approver,
            "approved_at": approval.approved_at.isoformat(),
            "reference": approval.reference,
            "recorded_by": approval.recorded_by.get_username(),
        },
        # 第二十七条第4项: the open cases the working group accepted as residual risks, bound to this package.
        "residual_risks": [
            {
                "case": f"{a.case.path_id} #{a.case.pk}",
                "site": site_label(a.case.site),
                "reason": a.reason,
                "accepted_by": a.accepted_by.name,
                "accepted_at": a.accepted_at.isoformat(),
            }
            for a in CaseRiskAcceptance.objects.filter(
                case__engagement=package.engagement, case__state=CaseState.OPEN
            ).select_related("case__site", "accepted_by")
        ],
        "distribution": [
            {
                "recipient": d.recipient,
                "site": site_label(d.site) if d.site else None,
                "sent_at": d.sent_at.isoformat(),
                "means": d.means,
                "recorded_by": d.recorded_by.get_username(),
            }
            for d in distributions
        ],
    }


def package_addendum_issue(*, actor: Any, package: HandoverPackage) -> bytes:
    """The signed addendum: the approval and distribution records bound to the package's SHA-256."""
    require(user=actor, engagement=package.engagement, capability=perms.MANAGE_PACKAGES)
    body = _addendum_body(package)
    signed = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    key = _package_key()
    document = {"addendum": body, "signature": json.loads(verify.signature_bytes(key, signed))}
    with transaction.atomic():
        event_record(
            actor=actor,
            action=events.ADDENDUM_DOWNLOAD,
            engagement_id=package.engagement_id,
            obj=package,
            after={"package": package.digest, "distributions": len(body["distribution"]),
                   "approved": body["approval"] is not None},
        )  # fmt: skip
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode()


def package_public_key_pem() -> str:
    """The server's package key, public half, in PEM (created on first use)."""
    key = _package_key()
    return verify.public_key_pem(key.public_key())
