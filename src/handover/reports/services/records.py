"""What is recorded against a built package: the working group's approval, the distribution, the signed addendum."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.accounts.enrolment import credential_is_fresh
from handover.accounts.services import totp_verify
from handover.audit.services import event_record
from handover.core.actors import Actor, actor_user
from handover.core.errors import DomainError
from handover.notifications.links import Link
from handover.notifications.services import notify
from handover.org import permissions as perms
from handover.org.models import Engagement, Person, Site, SiteLevel
from handover.org.selectors import require, working_group_member
from handover.registers.io.exporting import site_label
from handover.reports import events, topics, verify
from handover.reports.models import HandoverPackage, PackageApproval, PackageDistribution, Recipient
from handover.reports.services.keys import _package_key
from handover.workflow import gates
from handover.workflow.models import CaseRiskAcceptance, CaseState


def package_approve(
    *, actor: Actor, package: HandoverPackage, totp_code: str, reference: str = "", residual_risk_read: bool = False,
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
    login = get_user_model().objects.get(
        pk=actor_user(actor).pk
    )  # the stored last-used step: a code works once
    if credential_is_fresh(user=login):
        raise DomainError(
            _(
                "This login's password or second factor was set or reset in the last 24 hours: an approval "
                "waits until it is no longer new (docs/access-policy.md)."
            ),
            field="totp_code",
        )
    totp_verify(user=login, code=totp_code, approving=True)
    now = timezone.now()
    with transaction.atomic():
        approval = PackageApproval.objects.create(
            package=package, approver=person.name, person=person, approved_at=now, reference=reference.strip(),
            residual_risk_read=bool(package.residual_risk), recorded_by=actor_user(actor),
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
            link=Link("reports:package_detail", code=engagement.code, package_id=package.pk),
            now=now,
        )
    return approval


def _working_group_member(actor: Actor, engagement: Engagement) -> Person:
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
    *, actor: Actor, package: HandoverPackage, recipient: str, sent_at: datetime, site: Site | None = None,
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
            recorded_by=actor_user(actor),
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


def package_addendum_issue(*, actor: Actor, package: HandoverPackage) -> bytes:
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
