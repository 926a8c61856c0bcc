"""Django forms built from the column declarations: one generic row form for all 41 registers.

A form here only gives each column its widget (date, date and time, number, enum select, 是/否, a choice of
entities at the user's sites, a file) and turns the posted values into the plain values the services take.
Whether a value is valid is decided once, by registers.validation through the services; their messages
(the secrets refusal included) are put back on the field they name (``add_service_errors``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q
from django.forms.utils import flatatt
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from handover.core.actors import Actor
from handover.org.models import Engagement, OrgType, Site
from handover.org.selectors import firm_label_for
from handover.registers import selectors
from handover.registers.columns import CONDITIONAL, REQUIRED, Column
from handover.registers.models import FormState


def column_label(column: Column) -> str:
    """The column's label in the current language; the official Chinese stays beside the English."""
    if (translation.get_language() or "zh-hans").startswith("zh"):
        return column.zh
    return f"{column.en} ({column.zh})"


def choice_label(zh: str, en: str) -> str:
    return zh if (translation.get_language() or "zh-hans").startswith("zh") else f"{en} ({zh})"


class PlainSelect(forms.Select):
    """A single select written out in Python, the same markup as Django's: its template renders each option
    through the template engine, which made the list filters' selects most of the list page's cost and grew
    with the sites (a 技术组 at 300 营业部 gets 301 options; issue 18). Each option is one f-string with its
    key and label escaped (``html.escape``, as Django's ``escape``), not a ``format_html`` call."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        chosen = set(self.format_value(value))
        options = "".join(
            f'<option value="{escape(key)}"{" selected" if key in chosen else ""}>{escape(label)}</option>'
            for key, label in self._flat_choices()
        )
        attributes = flatatt(self.build_attrs({"name": name, **self.attrs}, attrs))
        # The attributes are escaped by flatatt, every key and label above by html.escape.
        return mark_safe(f"<select{attributes}>{options}</select>")  # noqa: S308

    def _flat_choices(self) -> Any:
        for key, label in self.choices:
            key = "" if key is None else str(key)
            if isinstance(label, list | tuple):  # an option group: not used by the filters, flattened
                yield from ((str(k), str(v)) for k, v in label)
            else:
                yield key, str(label)


class PlainTextInput(forms.TextInput):
    """A text input written out in Python, the same markup as Django's template for it (issue 18: the
    template engine's widget templates were a quarter of the list's filter bar)."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        shown = self.format_value(value)
        value_attr = "" if shown is None else f' value="{escape(str(shown))}"'
        attributes = flatatt(self.build_attrs(self.attrs, attrs))
        # The name and value are escaped here, the attributes by flatatt.
        return mark_safe(f'<input type="{self.input_type}" name="{escape(name)}"{value_attr}{attributes}>')  # noqa: S308


class RowIdsField(forms.CharField):
    """Row ids of a register reference (``T39``): typed as ``3, 17``; each must be a row the user sees.
    A ``single`` reference (表10 改密前备份, 表39 来源登记行) takes one row and gives its id, not a list."""

    def __init__(self, *, rows: Any, single: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows = rows
        self.single = single

    def clean(self, value: Any) -> list[int] | int | None:
        text = str(super().clean(value) or "").replace("，", ",")
        try:
            ids = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError(_("Enter row numbers separated by commas, e.g. 3, 17.")) from None
        missing = set(ids) - set(self.rows.filter(pk__in=ids).values_list("pk", flat=True))
        if missing:
            raise forms.ValidationError(
                _("No such row open to you: %(ids)s.") % {"ids": ", ".join(map(str, sorted(missing)))}
            )
        if not self.single:
            return ids
        if len(ids) > 1:
            raise forms.ValidationError(_("Enter one row number: this column refers to a single row."))
        return ids[0] if ids else None


def _help(column: Column) -> str:
    parts = []
    if column.required == REQUIRED:
        parts.append(str(_("Required.")))
    elif column.required == CONDITIONAL and column.condition:
        parts.append(gettext(column.condition))  # marked with gettext_noop in the definitions
    if column.articles:
        parts.append("、".join(column.articles))
    return " ".join(parts)


def _firm_hidden(label: str) -> Any:
    return lambda org: label if org.type == OrgType.FIRM else str(org)


def _on_line(queryset: Any, ref: str, site: Site | None) -> Any:
    """Issue 13 (records that cannot describe the impossible): the system and host pickers of a form at ``site``
    offer what the row check accepts (plausibility._places) — systems and hosts of the form's line of the site
    tree (the site, those above it, those below it); a host is labelled with the systems it runs."""
    if site is None or ref not in ("system", "asset"):
        return queryset
    line = Q(site__path__startswith=site.path) | Q(site_id__in=site.ancestor_ids())
    return queryset.filter(line).prefetch_related("systems") if ref == "asset" else queryset.filter(line)


def _host_label(asset: Any) -> str:
    systems = "、".join(sorted(s.name for s in asset.systems.all()))
    return f"{asset} · {systems}" if systems else str(asset)


def column_field(
    column: Column, *, user: Actor, engagement: Engagement, site: Site | None = None
) -> forms.Field:
    """The form field of one column: its widget by type; the value itself is checked by the services. ``site``,
    the form's site, narrows the system and host pickers to its line of the site tree."""
    common: dict[str, Any] = {"label": column_label(column), "required": False, "help_text": _help(column)}
    kind = column.type
    if kind in ("ref", "refs") and column.ref in selectors.ENTITY_MODELS:
        queryset = _on_line(
            selectors.ref_choices(user=user, engagement=engagement, ref=column.ref), column.ref, site
        )
        field: forms.ModelChoiceField[Any] = (
            forms.ModelChoiceField(queryset=queryset, empty_label="—", **common)
            if kind == "ref"
            else forms.ModelMultipleChoiceField(queryset=queryset, **common)
        )
        hidden = firm_label_for(user=user, engagement=engagement) if column.ref == "org" else None
        if hidden:  # 第十一条: the firm's organisation is offered under the code name
            field.label_from_instance = _firm_hidden(hidden)  # type: ignore[method-assign]
        elif column.ref == "asset" and site is not None:
            field.label_from_instance = _host_label  # type: ignore[method-assign,assignment]
        return field
    if kind in ("ref", "refs"):
        rows = selectors.register_rows(user=user, engagement=engagement, refs=column.ref)
        return RowIdsField(rows=rows, single=kind == "ref", widget=forms.TextInput(), **common)
    if kind == "enum":
        choices = [("", "—"), *((c.zh, choice_label(c.zh, c.en)) for c in column.choices)]
        return forms.CharField(widget=forms.Select(choices=choices), **common)
    if kind == "bool":
        return forms.CharField(widget=forms.Select(choices=[("", "—"), ("是", "是"), ("否", "否")]), **common)
    if kind == "att":
        return forms.FileField(**common)
    widgets = {
        "ltext": forms.Textarea(attrs={"rows": 3}),
        "date": forms.DateInput(attrs={"type": "date"}),
        "dt": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        "int": forms.NumberInput(attrs={"step": "1"}),
        "dec": forms.NumberInput(attrs={"step": "any"}),
    }
    return forms.CharField(widget=widgets.get(kind, forms.TextInput()), strip=True, **common)


def _initial(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.type == "bool":
        return "是" if value else "否"
    if column.type in ("ref", "refs") and column.ref not in selectors.ENTITY_MODELS:
        return ", ".join(map(str, value if isinstance(value, list) else [value]))
    if column.type == "dt":
        return str(value)[:16]
    return value


class ColumnsForm(forms.Form):
    """Fields for the given columns (a register's body or header), plus 备注 for a row."""

    def __init__(
        self,
        *args: Any,
        columns: tuple[Column, ...],
        user: Actor,
        engagement: Engagement,
        values: dict[str, Any] | None = None,
        with_remarks: bool = True,
        remarks: str = "",
        site: Site | None = None,
        **kwargs: Any,
    ) -> None:
        self.columns = columns
        self.values = values or {}
        initial = {c.key: _initial(c, self.values.get(c.key)) for c in columns}
        if with_remarks:
            initial["remarks"] = remarks
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        for column in columns:
            self.fields[column.key] = column_field(column, user=user, engagement=engagement, site=site)
        if with_remarks:
            self.fields["remarks"] = forms.CharField(
                label=_("Remarks (备注)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
            )

    def service_data(self) -> dict[str, Any]:
        """The values for the services: entities as ids, files left out (see ``files_to_store``)."""
        data: dict[str, Any] = {}
        for column in self.columns:
            value: Any = self.cleaned_data.get(column.key)
            if column.type == "att":
                if self.values.get(column.key) and not isinstance(value, UploadedFile):
                    data[column.key] = self.values[column.key]  # keep the file already attached
                continue
            if hasattr(value, "pk"):
                value = value.pk
            elif hasattr(value, "values_list"):
                value = list(value.values_list("pk", flat=True))
            if value not in (None, "", []):
                data[column.key] = value
        return data

    def files_to_store(self) -> dict[str, tuple[str, Any]]:
        """The uploaded files of ``att`` columns, as (name, chunks) for attachments.write_with_files."""
        return {
            c.key: (upload.name or c.key, upload.chunks())
            for c in self.columns
            if c.type == "att" and isinstance(upload := self.cleaned_data.get(c.key), UploadedFile)
        }

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Put the services' messages on the fields they name."""
        for key, messages in errors.items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)


def api_form_data(columns: tuple[Column, ...], data: dict[str, Any]) -> dict[str, Any]:
    """JSON values of the API in the shape the form fields read (是/否 for booleans, ids for refs)."""
    posted: dict[str, Any] = {}
    for column in columns:
        if column.key not in data or data[column.key] is None:
            continue
        value = data[column.key]
        if column.type == "bool" and isinstance(value, bool):
            value = "是" if value else "否"
        elif column.type == "refs" and column.ref in selectors.ENTITY_MODELS:
            value = value if isinstance(value, list) else [value]
        elif column.type in ("ref", "refs") and isinstance(value, list):
            value = ", ".join(map(str, value))
        posted[column.key] = value
    return posted


class FormOpenForm(forms.Form):
    """The official header of a new form: 填报单位/站点, 日期 and (optionally) 编号."""

    site = forms.ModelChoiceField(queryset=Site.objects.none(), label=_("Reporting site (填报单位/站点)"))
    form_date = forms.DateField(label=_("Date (日期)"), widget=forms.DateInput(attrs={"type": "date"}))
    form_no = forms.CharField(
        label=_("Form number (编号)"),
        required=False,
        max_length=60,
        help_text=_(
            "Left empty, it is numbered by site, register, date and sequence, e.g. BR-HZ-T08-20261204-001."
        ),
    )

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]


class ReasonForm(forms.Form):
    """Why a signed row or form is corrected; the reason stays with the new version."""

    reason = forms.CharField(label=_("Reason for the correction"), widget=forms.Textarea(attrs={"rows": 3}))


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File"))
    description = forms.CharField(label=_("Description"), required=False, max_length=200)


class ImportForm(forms.Form):
    """The file of an import: xlsx or CSV in the official frame, at most HANDOVER_IMPORT_MAX_BYTES."""

    file = forms.FileField(label=_("File (xlsx or CSV)"))

    def clean_file(self) -> UploadedFile:
        from handover.registers.io.reading import max_bytes

        file: UploadedFile = self.cleaned_data["file"]
        if (file.size or 0) > max_bytes():
            raise forms.ValidationError(
                _("%(file)s is larger than %(mb)d MB; split it by site.")
                % {"file": file.name, "mb": max_bytes() >> 20}
            )
        return file


class RowFilterForm(forms.Form):
    """The list filters: site, form state, full text, and one select per enum or 是/否 column."""

    site = forms.ChoiceField(choices=(), required=False, label=_("Site"), widget=PlainSelect)
    form_state = forms.ChoiceField(
        choices=[("", "—"), *FormState.choices], required=False, label=_("Form state"), widget=PlainSelect
    )
    q = forms.CharField(required=False, label=_("Search"), widget=PlainTextInput)

    def __init__(self, *args: Any, sites: Sequence[Site], register_no: int, **kwargs: Any) -> None:
        """``sites``: the sites offered, already read for the page (a list, not a query: issue 18)."""
        super().__init__(*args, **kwargs)
        self._sites = {str(site.pk): site for site in sites}
        offered = [("", "---------"), *((key, str(site)) for key, site in self._sites.items())]
        self.fields["site"].choices = offered  # type: ignore[attr-defined]
        for column in selectors.filterable_columns(register_no):
            choices = (
                [("是", "是"), ("否", "否")]
                if column.type == "bool"
                else [(c.zh, choice_label(c.zh, c.en)) for c in column.choices]
            )
            self.fields[column.key] = forms.ChoiceField(
                choices=[("", "—"), *choices], required=False, label=column_label(column), widget=PlainSelect
            )

    def labelled(self) -> SafeString:
        """Each field inside its label, as the list's filter bar shows them: written here in one pass rather
        than by a template loop over the bound fields (issue 18)."""
        # The labels are escaped here, each widget by its own render.
        return mark_safe("".join(f"<label>{escape(str(f.label))} {f}</label>" for f in self))  # noqa: S308

    def clean_site(self) -> Site | None:
        """The chosen site itself (the field has checked it is one of those offered)."""
        return self._sites.get(self.cleaned_data["site"])
