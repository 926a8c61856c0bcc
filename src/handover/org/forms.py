"""Forms check the shape of input; the rules (allowed parents, 三权分立, scope) live in services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from handover.org.models import Organisation, Person, RoleAssignment, Site


def _limit(form: forms.BaseForm, name: str, queryset: Any) -> None:
    """Offer only the rows the user may choose (the selectors' scope)."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = queryset


class SiteForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = ["code", "name", "level", "parent", "address"]

    def __init__(self, *args: Any, sites: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit(self, "parent", sites)
        self.fields["parent"].required = False
        if editing:
            self.fields["level"].disabled = True


class OrganisationForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = ["name", "type", "contact_person", "phone", "address"]


class OrganisationChoiceField(forms.ModelChoiceField):
    """An organisation by the name the selector shows this user (第十一条 hides the firm's from some)."""

    def label_from_instance(self, obj: Any) -> str:
        return str(getattr(obj, "shown_name", obj.name))


class PersonForm(forms.ModelForm):
    class Meta:
        model = Person
        fields = [
            "name",
            "organisation",
            "site",
            "department",
            "post",
            "party",
            "employment_type",
            "employment",
            "leave_date",
            "phone",
        ]
        widgets = {"leave_date": forms.DateInput(attrs={"type": "date"})}
        field_classes = {"organisation": OrganisationChoiceField}

    def __init__(self, *args: Any, sites: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit(self, "site", sites)
        _limit(self, "organisation", organisations)


class RoleForm(forms.ModelForm):
    class Meta:
        model = RoleAssignment
        fields = ["role", "site", "observer_body"]

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit(self, "site", sites)
        self.fields["site"].required = False
        self.fields["observer_body"].help_text = _("Only for observers.")


class LoginChoiceField(forms.ModelChoiceField):
    """A login shown by its username (what the system administrator handed out), then its display name."""

    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_username()
        return f"{name} · {obj.display_name}" if obj.display_name and obj.display_name != name else name


class LinkLoginForm(forms.Form):
    """技术组 links a login account to a person; the choices are the selectors' linkable logins."""

    user = LoginChoiceField(queryset=None, label=_("login account"))

    def __init__(self, *args: Any, logins: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit(self, "user", logins)
