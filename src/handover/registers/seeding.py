"""Writes that derive forms from other forms: the computed registers (表6, 表24) and the 稳定期 living ledgers
seeded from the signed handover-day snapshots (registers.md §2, Views).

A 交接日 register is a frozen snapshot; its 稳定期 twin is the living ledger, seeded from it once. Each seeded
row keeps the row it came from: in the twin's own 关联单据/来源 column where it has one (表32, 表33, 表34),
and for every row in the form header's ``source_rows`` (序号 → source row), read by ``source_row``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from handover.audit.services import event_record
from handover.core.actors import Actor, actor_user
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import require
from handover.registers import catalogue, computed, events, services
from handover.registers.models import Form, Row
from handover.registers.validation import clean_row

# 交接期 snapshot → 稳定期 living ledger (registers.md §2, Views).
TWINS = {16: 32, 17: 33, 18: 34, 19: 35, 10: 27, 13: 28, 14: 29}
CARRIED_OVER = "交接日转入"
# 第三十一条第1项 asks for 定期更换 without an interval; 90 days is this deployment's default (designed).
PASSWORD_CHANGE_INTERVAL = timedelta(days=90)
# 表14 数据类别 → 表29 数据类别.
DATA_CLASS_29 = {
    "当前数据": "日终数据",
    "历史数据": "其他",
    "交易所清算文件-沪": "清算文件",
    "交易所清算文件-深": "清算文件",
    "证券余额对账文件": "对账文件",
    "其他交易所/登记结算下发文件": "清算文件",
    "其他": "其他",
}


# Computed registers ---------------------------------------------------------------------------------------


def computed_form_build(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site,
    register_no: int,
    form_date: date,
    form_no: str = "",
    header: dict[str, Any] | None = None,
    as_of: date | None = None,
    lines: list[dict[str, Any]] | None = None,
) -> Form:
    """A form of 表6 (from the 表5 rows of ``site`` and its subtree) or 表24 (from every annexed register
    of the subtree), its rows computed now — or ``lines`` computed earlier by ``computed_lines`` (the package
    computes 表24 when it chooses its annexes, and writes it at its end); it is then submitted and signed like
    any other form."""
    if not catalogue.get(register_no).computed:  # 表6 from 表5; 表24 from its annexes (registers.md §3.2)
        raise DomainError(_("Only 表6 and 表24 are computed registers."), field="register_no")
    require(user=actor, engagement=engagement, capability=perms.FILL_REGISTERS, site=site)
    subtree = list(Site.objects.filter(engagement=engagement, path__startswith=site.path, is_active=True))
    if lines is None:
        lines = computed_lines(engagement=engagement, site=site, register_no=register_no, as_of=as_of)
    if register_no == catalogue.HANDOVER_SUMMARY:
        header = {
            "disposal_date": engagement.disposal_date.isoformat(),
            "scope_sites": [s.pk for s in subtree],
            **(header or {}),
        }
    header = header or {}
    clean = [_computed_clean(register_no, data) for data in lines]
    with transaction.atomic():
        form = services.form_create(
            actor=actor,
            engagement=engagement,
            site=site,
            register_no=register_no,
            form_date=form_date,
            form_no=form_no,
            header=header,
            partial_header=True,
        )
        _rows_create(actor, form, clean, events.FORM_COMPUTE, {"rows": len(clean)})
    return form


def computed_lines(
    *, engagement: Engagement, site: Site, register_no: int, as_of: date | None = None
) -> list[dict[str, Any]]:
    """The lines ``computed_form_build`` would write now for 表6 or 表24 at ``site``, without writing them."""
    if not catalogue.get(register_no).computed:
        raise DomainError(_("Only 表6 and 表24 are computed registers."), field="register_no")
    subtree = list(Site.objects.filter(engagement=engagement, path__startswith=site.path, is_active=True))
    if register_no == catalogue.STAFF_SUMMARY:
        return computed.staff_summary(engagement=engagement, sites=subtree)
    summary = computed.handover_summary(engagement=engagement, sites=subtree, as_of=as_of)
    return [line.as_data() for line in summary if line.site is not None]


def form_open(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site,
    register_no: int,
    form_date: date,
    form_no: str = "",
    header: dict[str, Any] | None = None,
) -> Form:
    """Open a form of 表N for whichever face asks (review §4.3: the API opened an empty 表24 shell where the
    page built it): a computed register (表6, 表24) is built with its rows now, any other opens empty."""
    if catalogue.get(register_no).computed:
        return computed_form_build(
            actor=actor,
            engagement=engagement,
            site=site,
            register_no=register_no,
            form_date=form_date,
            form_no=form_no,
            header=header,
        )
    return services.form_create(
        actor=actor,
        engagement=engagement,
        site=site,
        register_no=register_no,
        form_date=form_date,
        form_no=form_no,
        header=header,
    )


def _computed_clean(register_no: int, data: dict[str, Any]) -> dict[str, Any]:
    """A computed value left empty is a true value (no key staff, no form yet); anything else must be valid."""
    clean, errors = clean_row(catalogue.columns(register_no), data)
    wrong = {key: messages for key, messages in errors.items() if messages != [_("Required.")]}
    if wrong:
        raise DomainError(
            _("表%(n)d could not be computed: %(errors)s") % {"n": register_no, "errors": wrong},
            field="register_no",
        )
    return clean


def _rows_create(
    actor: Actor, form: Form, rows: list[dict[str, Any]], action: str, after: dict[str, Any]
) -> None:
    user = actor_user(actor)
    Row.objects.bulk_create(
        Row(form=form, seq=seq, data=data, created_by=user) for seq, data in enumerate(rows, 1)
    )
    event_record(
        actor=actor,
        action=action,
        engagement_id=form.engagement_id,
        site_id=form.site_id,
        obj=form,
        after={"form": form.form_no, "register_no": form.register_no, **after},
    )


# Living ledgers -------------------------------------------------------------------------------------------


def twin_seed(
    *, actor: Actor, snapshot: Form, form_date: date | None = None, defaults: dict[str, Any] | None = None
) -> Form:
    """Seed the 稳定期 twin of a signed 交接日 form: one row per snapshot row, each keeping its source.

    ``defaults`` fills the twin's columns that the snapshot cannot tell (表32 关键设备, 表27 修改原因 and
    强度符合, 表28 申请人, …); every row is checked before anything is written, and a missing value is named.
    """
    twin = TWINS.get(snapshot.register_no)
    if twin is None:
        names = "、".join(f"表{n}" for n in TWINS)
        raise DomainError(_("Only %(names)s have a living ledger to seed.") % {"names": names}, field="form")
    require(user=actor, engagement=snapshot.engagement, capability=perms.FILL_REGISTERS, site=snapshot.site)
    if not snapshot.is_current or not snapshot.is_frozen:
        raise DomainError(
            _("Only the current signed version of a form is a snapshot to seed from; sign %(form)s first.")
            % {"form": snapshot.form_no},
            field="form",
        )
    seeded = Form.objects.filter(
        engagement=snapshot.engagement, register_no=twin, header__source_form=snapshot.pk
    ).first()
    if seeded is not None:
        raise DomainError(
            _("表%(n)d has been seeded from %(form)s already (%(twin)s).")
            % {"n": twin, "form": snapshot.form_no, "twin": seeded.form_no},
            field="form",
        )
    sources = list(snapshot.rows.filter(is_current=True).order_by("seq"))
    rows = _seeded_rows(snapshot, twin, sources, defaults or {})
    provenance = {
        "source_form": snapshot.pk,
        "source_form_no": f"{snapshot.form_no} v{snapshot.version}",
        "source_rows": {str(seq): src.pk for seq, src in enumerate(sources, 1)},
    }
    with transaction.atomic():
        form = services.form_create(
            actor=actor,
            engagement=snapshot.engagement,
            site=snapshot.site,
            register_no=twin,
            form_date=form_date or date.today(),
            provenance=provenance,
        )
        _rows_create(
            actor, form, rows, events.FORM_SEED, {"source": provenance["source_form_no"], "rows": len(rows)}
        )
    return form


def source_row(row: Row) -> Row | None:
    """The snapshot row a seeded row came from, or None for a row entered in the living ledger."""
    pk = (row.form.header.get("source_rows") or {}).get(str(row.seq))
    return Row.objects.filter(pk=pk).first() if pk else None


def _seeded_rows(
    snapshot: Form, twin: int, sources: list[Row], defaults: dict[str, Any]
) -> list[dict[str, Any]]:
    columns = catalogue.columns(twin)
    keys = {column.key for column in columns}
    contracts = _seeded_contracts(snapshot.engagement) if twin == 33 else {}
    rows, problems = [], []
    for src in sources:
        data = {k: v for k, v in src.data.items() if k in keys}
        derived = _derived(twin, snapshot, src, contracts)
        data.update({k: v for k, v in derived.items() if v not in (None, "")})
        data.update({k: v for k, v in defaults.items() if k in keys and k not in data})
        data = {k: v for k, v in data.items() if k in keys}
        clean, errors = clean_row(columns, data)
        if errors:
            labels = {c.key: c.zh for c in columns}
            problems.append(
                _("row %(seq)d: %(fields)s")
                % {
                    "seq": src.seq,
                    "fields": "; ".join(f"{labels.get(k, k)} {' '.join(m)}" for k, m in errors.items()),
                }
            )
        rows.append(clean)
    if problems:
        raise DomainError(
            _("表%(n)d cannot be seeded: %(problems)s. Give the missing values as defaults.")
            % {"n": twin, "problems": " / ".join(problems)},
            field="defaults",
        )
    return rows


def _derived(twin: int, snapshot: Form, src: Row, contracts: dict[int, int]) -> dict[str, Any]:
    """The twin's columns that follow from the snapshot row."""
    data = src.data
    if twin == 32:
        return {"movement": CARRIED_OVER, "moved_on": snapshot.form_date.isoformat(), "source_ref": src.pk}
    if twin == 33:
        contract = contracts.get(data.get("contract_ref") or 0)
        return {"movement": CARRIED_OVER, "source_ref": src.pk, "contract_ref": contract}
    if twin == 34:
        return {"source_ref": src.pk}
    if twin == 35:
        return {"event": CARRIED_OVER}
    if twin == 27:
        changed = datetime.fromisoformat(data["changed_at"]).date()
        return {
            "last_changed_on": changed.isoformat(),
            "next_due_on": (changed + PASSWORD_CHANGE_INTERVAL).isoformat(),
        }
    if twin == 29:
        return {
            "trade_date": data.get("as_of"),
            "data_class": DATA_CLASS_29.get(data.get("data_class", ""), "其他"),
            "location": data.get("offsite_location"),
        }
    return {}


def _seeded_contracts(engagement: Engagement) -> dict[int, int]:
    """表19 row → the 表35 row seeded from it, so a seeded 表33 row points at the living contract."""
    found: dict[int, int] = {}
    for form in Form.objects.filter(
        engagement=engagement, register_no=35, is_current=True, header__has_key="source_rows"
    ):
        by_seq = dict(form.rows.filter(is_current=True).values_list("seq", "pk"))
        for seq, source in form.header["source_rows"].items():
            if int(seq) in by_seq:
                found[int(source)] = by_seq[int(seq)]
    return found
