from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("User name"),
        max_length=150,
        # A phone keyboard must not capitalise or correct a login name (UX review M5).
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "username",
                "autocapitalize": "none",
                "spellcheck": "false",
            }
        ),
    )
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class AccountCreateForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    display_name = forms.CharField(label=_("Display name"), max_length=100, required=False)


class TotpCodeForm(forms.Form):
    code = forms.CharField(
        label=_("6-digit code"),
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class EnrolmentCodeForm(forms.Form):
    enrolment_code = forms.CharField(
        label=_("Enrolment code"),
        max_length=64,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "autofocus": True, "spellcheck": "false"}),
    )


class EnrolmentForm(forms.Form):
    """The holder's own credentials: a new password (or the current one, for a factor reset) and a TOTP code."""

    current_password = forms.CharField(
        label=_("Current password"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    password = forms.CharField(
        label=_("New password"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("New password again"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    totp_code = forms.CharField(
        label=_("6-digit code"),
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args: object, factor_only: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.factor_only = factor_only
        if factor_only:
            del self.fields["password"], self.fields["password2"]
        else:
            del self.fields["current_password"]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if not self.factor_only and data.get("password") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data
