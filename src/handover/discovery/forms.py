"""Forms of the discovery pages: they check shape; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from handover.discovery.models import Decision


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File"), help_text=_("A file or a .tar of a collection folder."))
    site = forms.CharField(label=_("Site code"), max_length=40)
    system = forms.CharField(label=_("System"), max_length=200)
    kind = forms.CharField(
        label=_("Kind"),
        max_length=40,
        help_text=_("linux, ldif, oracle-spool, windows, huawei, cisco, operators"),
    )
    host = forms.CharField(label=_("Host"), max_length=255, required=False)


class GatherForm(forms.Form):
    site = forms.CharField(label=_("Site code (empty: all your sites)"), max_length=40, required=False)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=Decision.choices)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)
