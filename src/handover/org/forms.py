"""Forms check the shape of input; the rules (allowed parents, 三权分立, scope) live in services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from handover.org.models import Organisation, Person, Role, RoleAssignment, Site


class SiteForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = ["code", "name", "level", "parent", "address"]

    def __init__(self, *args: Any, sites: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = sites
        self.fields["parent"].required = False
        if editing:
            self.fields["level"].disabled = True


class OrganisationForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = ["name", "type", "contact_person", "phone", "address"]


class PersonForm(forms.ModelForm):
    class Meta:
        model = Person
        fields = ["name", "organisation", "site", "department", "post", "party", "employment_type", "employment",
                  "leave_date", "phone"]
        widgets = {"leave_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args: Any, sites: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["organisation"].queryset = organisations


class RoleForm(forms.ModelForm):
    class Meta:
        model = RoleAssignment
        fields = ["role", "site", "observer_body"]

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["site"].required = False
        self.fields["role"].choices = Role.choices
        self.fields["observer_body"].help_text = _("Only for observers.")
