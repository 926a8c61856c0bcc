"""Forms of the rotation pages: they check shape; the services decide (scope, bounds, the 表8 gate, 第八条)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from handover.vault.models import ChangeReason


class PlanForm(forms.Form):
    """Draw up a plan: a site of the user's (or the whole engagement), why, and how many hosts at once."""

    site = forms.ChoiceField(label=_("Site"), required=False)
    reason = forms.ChoiceField(label=_("Reason for the change"), choices=ChangeReason.choices)
    concurrency = forms.IntegerField(label=_("Hosts at once"), initial=16, help_text=_("From 1 to 256."))
    per_site = forms.IntegerField(
        label=_("Hosts at once per site"), initial=4, help_text=_("From 1 to the overall figure.")
    )

    def __init__(self, *args: Any, sites: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("The whole engagement")), *sites]


class RestoreForm(forms.Form):
    """Request a restore of a host's permission files (or a database's or directory's accounts)."""

    target = forms.TypedChoiceField(label=_("Host"), coerce=int)
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    paths = forms.CharField(
        label=_("Files"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One path a line, e.g. /etc/passwd; empty: every file that differs from the backup."),
    )

    def __init__(self, *args: Any, targets: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["target"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = targets

    def clean_paths(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["paths"].splitlines() if line.strip()][:500]


class RevertForm(forms.Form):
    """Ask to restore an account's original password within its E01 case (第二十八条第1项)."""

    reason = forms.CharField(
        label=_("Why the original must come back"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("what does not run since the change, and what the developer said"),
    )


class DisableForm(forms.Form):
    """Ask to disable the account a 表11 row decided to 停用 (第二十六条第3项 A)."""

    row = forms.TypedChoiceField(label=_("表11 row"), coerce=int)

    def __init__(self, *args: Any, rows: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["row"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = rows
