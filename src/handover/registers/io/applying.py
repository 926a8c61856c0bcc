"""Writing a checked import file into a form of a site: the target form, the rows created and updated by
natural key, one transaction with one audit event (``import_write``), and what it did (``ImportResult``).

A signed row, or any row of a signed form, is not touched (DESIGN.md decision 2); the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core import faults
from handover.core.actors import Actor, actor_user
from handover.core.errors import DomainError
from handover.org.models import Engagement, Site
from handover.registers import catalogue, events, services
from handover.registers.io.parsed import ParsedFile, ParsedRow
from handover.registers.io.parsing import row_key
from handover.registers.models import FROZEN_STATES, Form, Row, Signature


@dataclass
class ImportResult:
    """What an import did, by 序号 of the form's rows."""

    register_no: int
    form_no: str
    form_created: bool = False
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    signed_untouched: list[int] = field(default_factory=list)
    form_frozen: bool = False

    def lines(self) -> list[str]:
        """The outcome as sentences, for the command line and the import page."""
        out = [
            _(
                "表%(n)d form %(form)s%(new)s: %(created)d rows created, %(updated)d updated, %(same)d unchanged."
            )
            % {
                "n": self.register_no,
                "form": self.form_no,
                "new": _(" (new form)") if self.form_created else "",
                "created": len(self.created),
                "updated": len(self.updated),
                "same": len(self.unchanged),
            }
        ]
        if self.form_frozen:
            out.append(
                _("The form is signed: nothing in it was changed. Correct a signed form as a new version.")
            )
        if self.signed_untouched:
            out.append(
                _("Signed rows were not changed (序号 %(rows)s); correct them as new versions with a reason.")
                % {"rows": ", ".join(map(str, self.signed_untouched))}
            )
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "form_no": self.form_no,
            "form_created": self.form_created,
            "created": self.created,
            "updated": self.updated,
            "unchanged": len(self.unchanged),
            "signed_untouched": self.signed_untouched,
            "form_frozen": self.form_frozen,
        }


def _target_form(
    *, actor: Actor, engagement: Engagement, site: Site, parsed: ParsedFile
) -> tuple[Form, bool]:
    number = parsed.frame.number
    when = parsed.form_date or timezone.localdate()
    if parsed.form_no:
        form = Form.objects.filter(engagement=engagement, form_no=parsed.form_no, is_current=True).first()
        if form is not None and (form.register_no != number or form.site_id != site.pk):
            raise DomainError(
                _("The form %(no)s is a form of 表%(n)d at another site or of another register.")
                % {"no": form.form_no, "n": form.register_no},
                field="form_no",
            )
    else:
        # No 编号 in the file: the open form of that date, or a new one. A signed form of the date is not the
        # target (UX review H2: the rows were silently dropped into it); signed forms change only by 编号.
        form = (
            Form.objects.filter(
                engagement=engagement, site=site, register_no=number, form_date=when, is_current=True
            )
            .exclude(state__in=FROZEN_STATES)
            .order_by("-created_at")
            .first()
        )
    if form is not None:
        return form, False
    form = services.form_create(
        actor=actor,
        engagement=engagement,
        site=site,
        register_no=number,
        form_date=when,
        form_no=parsed.form_no,
        header=parsed.header,
        partial_header=True,  # a file carries no attachment (表1's 组织架构图); checked again on submission
    )
    return form, True


def _apply(
    *, actor: Actor, form: Form, parsed: ParsedFile, result: ImportResult
) -> dict[int, dict[str, Any]]:
    """Create and update the rows; returns the before/after of each updated row by 序号."""
    spec_key = catalogue.get(form.register_no).natural_key
    decimals = [c.key for c in parsed.frame.columns if c.type == "dec"]

    def same(stored: dict[str, Any], new: dict[str, Any]) -> bool:
        # 12.50 typed, 12.5 read back from a number cell: the same amount.
        if stored.keys() != new.keys():
            return False
        return all(
            Decimal(stored[k]) == Decimal(new[k]) if k in decimals else stored[k] == new[k] for k in stored
        )

    existing = list(Row.objects.filter(form=form, is_current=True))
    signed = set(Signature.objects.filter(row__form=form).values_list("row_id", flat=True))
    by_key: dict[str, Row] = {}
    for row in existing:
        key = row_key(spec_key, ParsedRow(0, row.seq, row.data, row.remarks))
        if key is not None:
            by_key.setdefault(key, row)
    used = {row.seq for row in existing}
    next_seq = max(used, default=0) + 1
    created: list[Row] = []
    changed: list[Row] = []
    diffs: dict[int, dict[str, Any]] = {}
    user = actor_user(actor)
    for item in parsed.rows:
        key = row_key(spec_key, item)
        match = by_key.get(key) if key is not None else None
        if match is None:
            seq = item.seq if item.seq is not None and item.seq not in used else next_seq
            used.add(seq)
            next_seq = max(next_seq, seq + 1)
            created.append(Row(form=form, seq=seq, data=item.data, remarks=item.remarks, created_by=user))
        elif same(match.data, item.data) and match.remarks == item.remarks:
            result.unchanged.append(match.seq)
        elif match.pk in signed:
            result.signed_untouched.append(match.seq)
        else:
            before = {
                k: match.data.get(k)
                for k in set(match.data) | set(item.data)
                if match.data.get(k) != item.data.get(k)
            }
            diffs[match.seq] = {"before": before, "after": {k: item.data.get(k) for k in before}}
            if match.remarks != item.remarks:
                diffs[match.seq]["remarks"] = item.remarks
            match.data, match.remarks = item.data, item.remarks
            changed.append(match)
    Row.objects.bulk_create(created, batch_size=1000)
    faults.point("registers.import.mid_rows")  # new rows in, the changed ones not yet
    Row.objects.bulk_update(changed, ["data", "remarks"], batch_size=1000)
    result.created = [row.seq for row in created]
    result.updated = [row.seq for row in changed]
    return diffs


def import_write(
    *, actor: Actor, engagement: Engagement, site: Site, parsed: ParsedFile, filename: str, sha256: str
) -> ImportResult:
    with transaction.atomic():
        form, created = _target_form(actor=actor, engagement=engagement, site=site, parsed=parsed)
        result = ImportResult(parsed.frame.number, form.form_no, form_created=created)
        if not form.is_current or form.is_frozen:
            result.form_frozen = True
            return result
        diffs = _apply(actor=actor, form=form, parsed=parsed, result=result)
        faults.point(
            "registers.import.after_rows"
        )  # rows written, no event yet: one transaction, all or none
        event_record(
            actor=actor,
            action=events.ROWS_IMPORT,
            engagement_id=engagement.pk,
            site_id=site.pk,
            obj=form,
            after={
                "file": filename,
                "sha256": sha256,
                "form": form.form_no,
                "created": result.created,
                "updated": diffs,
                "unchanged": len(result.unchanged),
                "signed_untouched": result.signed_untouched,
            },
        )
        faults.point("registers.import.before_commit")
    return result
