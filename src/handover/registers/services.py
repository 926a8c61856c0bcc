"""Writes to register forms, rows and signatures; each is one transaction with its audit event.

第八条: "托管方监督，被托管方执行"; important operations carry two signatures by two different people.
A row of a ★ register is signed by its executor (被托管技术方) and its supervisor (现场技术岗位, or 技术组);
a form's footer by the roles its register names (registers.md §1). Signed means frozen: corrections are
new versions with a reason, and the signed version stays readable.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record, snapshot
from handover.core import faults
from handover.core.actors import Actor, actor_user
from handover.core.errors import DomainError, PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Engagement, Person, Role, Site
from handover.org.selectors import grants_for, require
from handover.registers import catalogue, computed, events, hooks, rules
from handover.registers.columns import OPTIONAL, Column
from handover.registers.models import Form, FormState, Row, Signature, SignatureKind
from handover.registers.signing import (
    ARCHIVERS,
    ROW_SIGNERS,
    footer_roles,
)
from handover.registers.validation import clean_row


class RowInvalid(DomainError):
    """A row whose values fail their columns' rules; ``errors`` maps column keys to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        first = next(iter(errors))
        super().__init__(_("The row has %(n)d invalid fields.") % {"n": len(errors)}, field=first)
        self.errors = errors


def _signer(actor: Actor, engagement: Engagement, site: Site, allowed: frozenset[str]) -> tuple[Person, str]:
    """The actor's person in the engagement and the role, among ``allowed``, they hold at ``site``.

    第八条: the role must fit the person's party (role_grant checks it too; this catches a role that reached
    the database some other way), so the custodian never signs as the firm, nor the firm as the custodian."""
    person = Person.objects.filter(engagement=engagement, user=actor_user(actor), is_active=True).first()
    misfit = None
    for grant in grants_for(actor):
        if grant.engagement_id != engagement.pk or grant.role not in allowed or person is None:
            continue
        if grant.site_path and not site.path.startswith(grant.site_path):
            continue
        if perms.role_fits_party(grant.role, person.party):
            return person, grant.role
        misfit = grant.role
    if person is not None and misfit is not None:
        raise PermissionDenied(
            _(
                "%(name)s is %(party)s and cannot sign as %(role)s "
                "(第八条: the custodian supervises, the firm executes)."
            )
            % {"name": person.name, "party": person.get_party_display(), "role": Role(misfit).label}
        )
    names = "、".join(str(Role(r).label) for r in sorted(allowed))
    raise PermissionDenied(_("Only %(roles)s of this site may sign here.") % {"roles": names})


def row_check(
    *, form: Form, data: dict[str, Any], partial: bool = False, with_rules: bool = True
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """One row as every write path judges it (typed, API, import): the computed columns filled in, each
    column checked, then — when the columns are valid — the cross-register rules, which raise RuleViolation.
    Returns (clean values, errors by column key). ``partial`` leaves required values for later."""
    data = rules.prepare_row(form=form, data=data)
    clean, errors = clean_row(catalogue.columns(form.register_no), data, partial=partial)
    if with_rules and not errors:
        rules.check_row(form=form, data=clean)
    return clean, errors


def _validated(form: Form, data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The row's clean values; refused if a column is invalid or a cross-register rule blocks it.

    ``partial`` leaves required values for later (a machine's draft row; checked again on submit).
    """
    clean, errors = row_check(form=form, data=data, partial=partial)
    if errors:
        raise RowInvalid(errors)
    return clean


def header_columns(register_no: int) -> tuple[Column, ...]:
    """The header fields a person enters; computed ones (表22's summary block) are the engine's to fill."""
    return tuple(
        replace(c, required=OPTIONAL) if c.note.startswith("computed:") else c
        for c in catalogue.header_fields(register_no)
    )


def form_create(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site,
    register_no: int,
    form_date: date,
    form_no: str = "",
    header: dict[str, Any] | None = None,
    partial_header: bool = False,
    provenance: dict[str, Any] | None = None,
) -> Form:
    """Open a form of 表N for a site; the 编号 defaults to ``{site}-T{NN}-{yyyymmdd}-{nnn}``.

    ``partial_header`` leaves required header fields for later (a computed 表24 whose summary 技术组 writes
    afterwards); they are checked again when the form is submitted. ``provenance`` is what the engine writes
    into the header beside the declared fields (the signed snapshot a living ledger was seeded from).
    """
    require(user=actor, engagement=engagement, capability=perms.FILL_REGISTERS, site=site)
    spec = catalogue.get(register_no)
    header, errors = clean_row(header_columns(register_no), header or {}, partial=partial_header)
    header = {**header, **(provenance or {})}
    if errors:
        raise RowInvalid(errors)
    with transaction.atomic():
        if not form_no:
            prefix = f"{site.code}-T{spec.number:02d}-{form_date:%Y%m%d}-"
            taken = Form.objects.filter(engagement=engagement, form_no__startswith=prefix).count()
            form_no = f"{prefix}{taken + 1:03d}"
        if Form.objects.filter(engagement=engagement, form_no=form_no).exists():
            raise DomainError(_("The form number %(no)s is used already.") % {"no": form_no}, field="form_no")
        form = Form.objects.create(
            engagement=engagement,
            site=site,
            register_no=spec.number,
            form_no=form_no,
            form_date=form_date,
            header=header,
            created_by=actor_user(actor),
        )
        event_record(
            actor=actor,
            action=events.FORM_CREATE,
            engagement_id=engagement.pk,
            site_id=site.pk,
            obj=form,
            after=snapshot(form, ["register_no", "form_no", "form_date", "header"]),
        )
    return form


def _editable(form: Form) -> None:
    if not form.is_current or form.state not in (FormState.DRAFT, FormState.SUBMITTED):
        raise DomainError(
            _("This form is signed or superseded; correct it as a new version instead."), field="form"
        )


def row_add(
    *, actor: Actor, form: Form, data: dict[str, Any], remarks: str = "", partial: bool = False
) -> Row:
    """Add a row to an open form; ``partial`` leaves required values for later (checked on submit)."""
    require(user=actor, engagement=form.engagement, capability=perms.FILL_REGISTERS, site=form.site)
    _editable(form)
    clean = _validated(form, data, partial=partial)
    with transaction.atomic():
        seq = (form.rows.order_by("-seq").values_list("seq", flat=True).first() or 0) + 1
        row = Row.objects.create(
            form=form,
            seq=seq,
            data=clean,
            remarks=remarks,
            created_by=actor_user(actor),
        )
        event_record(
            actor=actor,
            action=events.ROW_CREATE,
            engagement_id=form.engagement_id,
            site_id=form.site_id,
            obj=row,
            after={"form": form.form_no, "seq": seq, "data": clean, "remarks": remarks},
        )
    return row


def row_update(
    *, actor: Actor, row: Row, data: dict[str, Any], remarks: str = "", partial: bool = False
) -> Row:
    """Change an unsigned row of an open form (``partial`` as in ``row_add``)."""
    form = row.form
    require(user=actor, engagement=form.engagement, capability=perms.FILL_REGISTERS, site=form.site)
    _editable(form)
    if not row.is_current or row.signatures.exists():
        raise DomainError(_("This row is signed; correct it as a new version with a reason."), field="row")
    clean = _validated(form, data, partial=partial)
    with transaction.atomic():
        before = {"data": row.data, "remarks": row.remarks}
        row.data, row.remarks = clean, remarks
        row.save(update_fields=["data", "remarks"])
        event_record(
            actor=actor,
            action=events.ROW_UPDATE,
            engagement_id=form.engagement_id,
            site_id=form.site_id,
            obj=row,
            before=before,
            after={"data": clean, "remarks": remarks},
        )
    return row


def row_correct(*, actor: Actor, row: Row, data: dict[str, Any], reason: str, remarks: str = "") -> Row:
    """A new version of a signed row; the signed one stays, superseded, with its signatures."""
    form = row.form
    require(user=actor, engagement=form.engagement, capability=perms.FILL_REGISTERS, site=form.site)
    _editable(form)
    if not reason.strip():
        raise DomainError(_("Say why the signed row is corrected."), field="reason")
    if not row.is_current:
        raise DomainError(_("Only the current version of a row can be corrected."), field="row")
    clean = _validated(form, data)
    with transaction.atomic():
        Row.objects.filter(pk=row.pk).update(is_current=False)
        new = Row.objects.create(
            form=form,
            seq=row.seq,
            data=clean,
            remarks=remarks,
            version=row.version + 1,
            previous=row,
            correction_reason=reason.strip(),
            created_by=actor_user(actor),
        )
        event_record(
            actor=actor,
            action=events.ROW_CORRECT,
            engagement_id=form.engagement_id,
            site_id=form.site_id,
            obj=new,
            before={"version": row.version, "data": row.data},
            after={"version": new.version, "data": clean, "reason": new.correction_reason},
        )
    return new


def row_sign(*, actor: Actor, row: Row, kind: str) -> Signature:
    """Executor or supervisor signature on a row of a ★ register (第八条): two different people."""
    form = row.form
    if not catalogue.get(form.register_no).dual_signature:
        raise DomainError(
            _("表%(n)d is signed on the form, not per row.") % {"n": form.register_no}, field="kind"
        )
    if kind not in ROW_SIGNERS:
        raise DomainError(_("Sign as executor or supervisor."), field="kind")
    if not row.is_current or not form.is_current or form.is_frozen:
        raise DomainError(_("This row is frozen."), field="row")
    person, role = _signer(actor, form.engagement, form.site, ROW_SIGNERS[kind])
    return _sign(actor=actor, person=person, role=role, kind=kind, row=row, form=form, action=events.ROW_SIGN)


def _sign(
    *, actor: Actor, person: Person, role: str, kind: str, form: Form, action: str, row: Row | None = None
) -> Signature:
    target = row if row is not None else form
    if target.signatures.filter(person=person).exists():
        raise DomainError(
            _("%(name)s has signed this already; the second signature must be someone else's (第八条).")
            % {"name": person.name},
            field="person",
        )
    try:
        with transaction.atomic():
            signature = Signature.objects.create(
                form=None if row is not None else form, row=row, kind=kind, role=role, person=person
            )
            faults.point("registers.sign.after_signature")  # the signature without its event: rolled back
            event_record(
                actor=actor,
                action=action,
                engagement_id=form.engagement_id,
                site_id=form.site_id,
                obj=signature,
                after={"target": str(target), "kind": kind, "role": role, "person": person.pk},
            )
    except IntegrityError:
        raise DomainError(_("This signature is given already."), field="kind") from None
    return signature


def form_submit(*, actor: Actor, form: Form) -> Form:
    """草稿 → 已提交: the rows are complete and ready for signatures."""
    require(user=actor, engagement=form.engagement, capability=perms.FILL_REGISTERS, site=form.site)
    if form.state != FormState.DRAFT or not form.is_current:
        raise DomainError(_("Only a draft can be submitted."), field="form")
    rows = list(form.rows.filter(is_current=True))
    if not rows:
        raise DomainError(_("The form has no rows yet."), field="form")
    if (
        form.register_no == 22
    ):  # 第二十六条第8项: the 汇总 block is computed from the rows, never typed (C9 C)
        form.header = {**form.header, **computed.t22_summary(row.data for row in rows)}
    declared = {c.key for c in header_columns(form.register_no)}
    given = {key: value for key, value in form.header.items() if key in declared}
    missing_header = clean_row(header_columns(form.register_no), given)[1]
    if missing_header:
        labels = {c.key: c.zh for c in header_columns(form.register_no)}
        raise DomainError(
            _("The form's header is incomplete: %(fields)s.")
            % {"fields": "、".join(labels.get(key, key) for key in missing_header)},
            field="header",
        )
    columns = catalogue.columns(form.register_no)
    # A computed row was checked when it was computed; a value it leaves empty is a true one (no form yet).
    check = [] if catalogue.get(form.register_no).computed else rows
    incomplete = [str(r.seq) for r in check if clean_row(columns, r.data)[1]]
    if incomplete:  # draft rows filled by a machine (partial) must be completed by a person first
        raise DomainError(
            _("Rows %(rows)s have required values missing or invalid; complete them first.")
            % {"rows": ", ".join(incomplete)},
            field="form",
        )
    rules.check_form(form=form)
    with transaction.atomic():
        Form.objects.filter(pk=form.pk).update(state=FormState.SUBMITTED, header=form.header)
        event_record(
            actor=actor,
            action=events.FORM_SUBMIT,
            engagement_id=form.engagement_id,
            site_id=form.site_id,
            obj=form,
            before={"state": form.state},
            after={"state": FormState.SUBMITTED},
        )
    form.state = FormState.SUBMITTED
    return form


def form_sign(*, actor: Actor, form: Form) -> Signature:
    """A footer signature in the role the signer holds here; the last one required marks the form signed."""
    if form.state != FormState.SUBMITTED or not form.is_current:
        raise DomainError(_("Only a submitted form can be signed."), field="form")
    needed = footer_roles(form.register_no)
    given = set(form.signatures.values_list("role", flat=True))
    try:
        person, role = _signer(actor, form.engagement, form.site, frozenset(needed) - given)
    except PermissionDenied:
        if form.signatures.filter(
            person__user=actor_user(actor)
        ).exists():  # UX review L3: say so, not "only … may sign"
            raise PermissionDenied(_("You have already signed this form.")) from None
        raise
    if catalogue.get(form.register_no).dual_signature:
        unsigned = [
            r.seq for r in form.rows.filter(is_current=True) if r.signatures.count() < len(ROW_SIGNERS)
        ]
        if unsigned:
            raise DomainError(
                _("Rows %(rows)s still need their executor and supervisor signatures.")
                % {"rows": ", ".join(map(str, unsigned))},
                field="form",
            )
    with transaction.atomic():
        signature = _sign(
            actor=actor,
            person=person,
            role=role,
            kind=SignatureKind.FOOTER,
            form=form,
            action=events.FORM_SIGN,
        )
        faults.point("registers.form_sign.before_state")  # the last signature in, the form not yet 已签字
        if given | {role} >= set(needed):
            Form.objects.filter(pk=form.pk).update(state=FormState.SIGNED)
            form.state = FormState.SIGNED
            signed_id = form.pk
            transaction.on_commit(lambda: hooks.form_signed(signed_id))
    return signature


def form_archive(*, actor: Actor, form: Form) -> Form:
    """已签字 → 已归档: the last state of the lifecycle (registers.md §1). An archived form is final: it is not
    corrected any more, and it stays readable and exportable with its signatures."""
    if form.state != FormState.SIGNED or not form.is_current:
        raise DomainError(_("Only the current signed version of a form can be archived."), field="form")
    _signer(actor, form.engagement, form.site, ARCHIVERS)
    with transaction.atomic():
        updated = Form.objects.filter(pk=form.pk, state=FormState.SIGNED).update(state=FormState.ARCHIVED)
        if not updated:  # archived meanwhile by someone else
            raise DomainError(_("Only the current signed version of a form can be archived."), field="form")
        event_record(
            actor=actor,
            action=events.FORM_ARCHIVE,
            engagement_id=form.engagement_id,
            site_id=form.site_id,
            obj=form,
            before={"state": FormState.SIGNED},
            after={"state": FormState.ARCHIVED},
        )
    form.state = FormState.ARCHIVED
    return form


def form_correct(*, actor: Actor, form: Form, reason: str) -> Form:
    """A new draft version of a signed form with its current rows copied unsigned; the signed one stays."""
    require(user=actor, engagement=form.engagement, capability=perms.FILL_REGISTERS, site=form.site)
    if form.state != FormState.SIGNED or not form.is_current:
        raise DomainError(_("Only the current signed version can be corrected."), field="form")
    if not reason.strip():
        raise DomainError(_("Say why the signed form is corrected."), field="reason")
    with transaction.atomic():
        Form.objects.filter(pk=form.pk).update(is_current=False)
        new = Form.objects.create(
            engagement=form.engagement,
            site=form.site,
            register_no=form.register_no,
            form_no=form.form_no,
            form_date=form.form_date,
            header=form.header,
            version=form.version + 1,
            previous=form,
            correction_reason=reason.strip(),
            created_by=actor_user(actor),
        )
        Row.objects.bulk_create(
            Row(form=new, seq=r.seq, data=r.data, remarks=r.remarks)
            for r in form.rows.filter(is_current=True)
        )
        event_record(
            actor=actor,
            action=events.FORM_CORRECT,
            engagement_id=form.engagement_id,
            site_id=form.site_id,
            obj=new,
            before={"version": form.version},
            after={"version": new.version, "reason": reason},
        )
    return new
