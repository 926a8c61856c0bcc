"""The half-year rule of 表5 (第二十五条第3项): who left in the last six months is listed."""

from __future__ import annotations

from django.utils.translation import gettext as _

from handover.org.models import Employment, Party, Person
from handover.registers import computed
from handover.registers.models import Form, Row
from handover.registers.rules.base import RuleViolation, _as_int


def half_year_missing(*, form: Form, rows: list[Row] | None = None) -> list[Person]:
    """The site's IT staff who left within the half year before 处置日 and have no row in this 表5 form."""
    if rows is None:
        rows = list(form.rows.filter(is_current=True))
    listed = {_as_int(row.data.get("person_id")) for row in rows}
    start, end = computed.half_year_window(form.engagement)
    leavers = Person.objects.filter(
        engagement=form.engagement,
        site=form.site,
        party=Party.FIRM_IT,
        employment=Employment.LEFT,
        leave_date__gte=start,
        leave_date__lte=end,
    ).order_by("leave_date", "pk")
    return [person for person in leavers if person.pk not in listed]


def _half_year(form: Form, rows: list[Row]) -> None:
    missing = half_year_missing(form=form, rows=rows)
    if missing:
        start, end = computed.half_year_window(form.engagement)
        names = "、".join(f"{p.name}（{p.leave_date:%Y-%m-%d}）" for p in missing)
        raise RuleViolation(
            _(
                "表5 must include the IT staff who left in the half year before the disposal date "
                "(%(start)s to %(end)s, 第二十五条第3项). Missing at %(site)s: %(names)s. Add a row for each."
            )
            % {"start": start, "end": end, "site": form.site.name, "names": names},
            field="person_id",
            register_no=5,
            site_id=form.site_id,
        )
