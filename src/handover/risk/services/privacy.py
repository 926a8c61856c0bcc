"""Writes of personal-information protection (三(三)): record a processing activity, and record a leak from one as
a security incident (graded by the leaked records, with its reporting clocks: risk/services/incidents.py)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import clock
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.registers.models import InformationSystem, Row
from handover.risk import events
from handover.risk.models import Category, Incident, MediaEncryption, ProcessingActivity
from handover.risk.services.common import allowed, register_row, who
from handover.risk.services.incidents import incident_open


def activity_set(
    *,
    actor: Actor,
    engagement: Engagement,
    name: str,
    purpose: str,
    basis: str,
    categories: list[str],
    systems: list[str],
    retention: str,
    recipients: str = "",
    outside_boundary: bool = False,
    outside_measures: str = "",
    biometric_assessment: str = "",
    assessed_on: dt.date | None = None,
) -> ProcessingActivity:
    """Record (or change, by its name) a processing activity of investors' personal information."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    for field, value in (("name", name), ("purpose", purpose), ("basis", basis), ("retention", retention)):
        if not (value or "").strip():
            raise DomainError(_("This field is required."), field=field)
    unknown = [c for c in categories if c not in Category.values]
    if not categories or unknown:
        raise DomainError(_("Choose the categories of personal information processed."), field="categories")
    known = set(
        InformationSystem.objects.filter(engagement=engagement, is_active=True).values_list("name", flat=True)
    )
    missing = [s for s in systems if s not in known]
    if not systems or missing:
        raise DomainError(
            _("Name the systems that process it, as the registers name them: %(missing)s is not one.")
            % {"missing": "、".join(missing) or "—"},
            field="systems",
        )
    if outside_boundary and not outside_measures.strip():
        raise DomainError(_("Processing outside the protection boundary needs its measures (三(三)三)."),
                          field="outside_measures")  # fmt: skip
    assessed = (
        bool(biometric_assessment.strip()) and assessed_on is not None and assessed_on <= clock.now().date()
    )
    if Category.BIOMETRIC in categories and not assessed:
        raise DomainError(
            _("Biometrics are collected only after the necessity and security assessment (三(三)四): "
              "record it and its date."),
            field="biometric_assessment",
        )  # fmt: skip
    values = {
        "purpose": purpose.strip(), "basis": basis.strip()[:200], "categories": sorted(set(categories)),
        "systems": sorted(set(systems)), "recipients": recipients.strip(), "outside_boundary": outside_boundary,
        "outside_measures": outside_measures.strip(), "retention": retention.strip()[:200],
        "biometric_assessment": biometric_assessment.strip(), "assessed_on": assessed_on,
    }  # fmt: skip
    _user, who_name = who(actor)
    with transaction.atomic():
        found, created = ProcessingActivity.objects.update_or_create(
            engagement=engagement, name=name.strip()[:200], defaults={**values, "updated_by_name": who_name}
        )
        after = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in values.items()}
        event_record(actor=actor, action=events.ACTIVITY_SET, engagement_id=engagement.pk, obj=found,
                     after={"name": found.name, "created": created, **after})  # fmt: skip
    return found


def activity_leak(
    *,
    actor: Actor,
    activity: ProcessingActivity,
    title: str,
    detected_at: dt.datetime,
    leaked_records: int,
    system_class: int,
    description: str = "",
) -> Incident:
    """A leak of the activity's data: a security incident on its first system, graded by the records leaked."""
    engagement = activity.engagement
    allowed(actor, engagement, perms.MANAGE_RISK)
    prefix = f"PI-{activity.pk}-"
    number = (
        f"{prefix}{Incident.objects.filter(engagement=engagement, number__startswith=prefix).count() + 1}"
    )
    with transaction.atomic():
        incident = incident_open(
            actor=actor, engagement=engagement, number=number, title=title, system_name=activity.systems[0],
            system_class=system_class, detected_at=detected_at, leaked_records=leaked_records,
            description=(description + "\n" if description else "") + _("Processing activity: %(name)s") % {
                "name": activity.name},
        )  # fmt: skip
        event_record(actor=actor, action=events.ACTIVITY_LEAK, engagement_id=engagement.pk, obj=activity,
                     after={"incident": incident.number, "leaked_records": int(leaked_records)})  # fmt: skip
    return incident


def media_encryption_mark(
    *, actor: Actor, engagement: Engagement, row: Row | int, method: str
) -> MediaEncryption:
    """Mark a couriered 表14 backup's media as encrypted, saying how (第二十八条第8项, 三(三))."""
    allowed(actor, engagement, perms.MANAGE_RISK)
    found = register_row(engagement, row, 14, "row")
    if found is None or (found.data or {}).get("upload_via") != "快递":
        raise DomainError(_("Only a 表14 backup sent by courier is marked here."), field="row")
    if not (method or "").strip():
        raise DomainError(
            _("Say how the media are encrypted (for example SM4 全盘加密, 密钥另行交接)."), field="method"
        )
    _user, name = who(actor)
    try:
        with transaction.atomic():
            mark = MediaEncryption.objects.create(
                row=found, method=method.strip()[:200], checked_by_name=name
            )
            event_record(actor=actor, action=events.MEDIA_ENCRYPTED, engagement_id=engagement.pk, obj=mark,
                         after={"row": found.pk, "method": mark.method})  # fmt: skip
    except IntegrityError:
        raise DomainError(_("This backup is marked already."), field="row") from None
    return mark
