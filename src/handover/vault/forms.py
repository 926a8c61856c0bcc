"""Forms of the vault pages. A secret field never renders its value back: after any error the person
types it again (``PasswordInput(render_value=False)``), and the views mark the fields sensitive so an
error report never carries them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from handover.org.models import Person, Site
from handover.registers.definitions.common import ACCOUNT_CLASS, ACCOUNT_LAYER
from handover.vault.models import ChangeReason, CustodyMode, RevealPurpose, SecretKind, VerifyResult
from handover.vault.passwords import PLATFORMS

SECRET_FIELDS = ("secret", "secret_again", "share")


def _secret_widget() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"})


class UnsealForm(forms.Form):
    share = forms.CharField(
        label=_("Your share"),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "size": 60}),
        help_text=_("Type it as printed (HOV1-K…); spaces and dashes do not matter."),
    )
    nonce = forms.CharField(widget=forms.HiddenInput, required=False)


class CaptureForm(forms.Form):
    """Which account (created in the registers' entities when new), which register, and the secret."""

    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.none())
    # UX review L5: a system is picked from the site's systems (the page lists them); a name that is not one
    # of them is refused unless "a new system" is ticked, so a typo does not silently make a second system.
    system = forms.CharField(
        label=_("System"),
        max_length=200,
        widget=forms.TextInput(attrs={"list": "vault-systems", "autocomplete": "off"}),
        help_text=_("Pick it from the list of the site's systems."),
    )
    new_system = forms.BooleanField(label=_("A new system: create it"), required=False)
    hostname = forms.CharField(label=_("Host name or address"), max_length=255, required=False)
    login_name = forms.CharField(label=_("Account"), max_length=200)
    layer = forms.ChoiceField(label=_("Layer"), choices=[(c.zh, c.zh) for c in ACCOUNT_LAYER])
    account_class = forms.ChoiceField(label=_("Account class"), choices=[(c.zh, c.zh) for c in ACCOUNT_CLASS])
    kind = forms.ChoiceField(label=_("Register"), choices=SecretKind.choices)
    reason = forms.ChoiceField(
        label=_("Reason for the change (表27)"), choices=[("", "—"), *ChangeReason.choices], required=False
    )
    custody_mode = forms.ChoiceField(label=_("Custody"), choices=CustodyMode.choices)
    envelope_no = forms.CharField(label=_("Sealed envelope number"), max_length=100, required=False)
    safe = forms.CharField(label=_("Safe"), max_length=100, required=False)
    holders = forms.ModelMultipleChoiceField(
        label=_("Holders"),
        queryset=Person.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,  # UX review L5: ticked, not Ctrl-clicked
    )
    generate = forms.BooleanField(label=_("Generate a new password instead (表10/27)"), required=False)
    platform = forms.ChoiceField(
        label=_("Platform limits"), choices=[(k, p.label) for k, p in PLATFORMS.items()], initial="generic"
    )
    length = forms.IntegerField(label=_("Length"), min_value=12, max_value=128, initial=20)
    secret = forms.CharField(label=_("Secret"), required=False, strip=False, widget=_secret_widget())
    secret_again = forms.CharField(
        label=_("Secret again"), required=False, strip=False, widget=_secret_widget()
    )

    # UX review L5: the page shows only the fields of what is chosen (app.js reads data-shown-if: a field
    # shown when another field has one of the values; "on" for a ticked box). Without JavaScript all show.
    SHOWN_IF = {
        "reason": ("kind", (SecretKind.PERIODIC,)),
        "envelope_no": ("custody_mode", (CustodyMode.ENVELOPE,)),
        "safe": ("custody_mode", (CustodyMode.ENVELOPE,)),
        "holders": ("custody_mode", (CustodyMode.ENVELOPE, CustodyMode.SPLIT)),
        "generate": ("kind", (SecretKind.CHANGED, SecretKind.PERIODIC)),
        "platform": ("generate", ("on",)),
        "length": ("generate", ("on",)),
        "secret": ("generate", ("",)),
        "secret_again": ("generate", ("",)),
    }

    def __init__(self, *args: Any, sites: Any, people: Any, systems: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.systems = systems
        site, holders = self.fields["site"], self.fields["holders"]
        assert isinstance(site, forms.ModelChoiceField) and isinstance(
            holders, forms.ModelMultipleChoiceField
        )
        site.queryset, holders.queryset = sites, people

    def shown_if(self, name: str) -> str:
        """The ``data-shown-if`` of a field's wrapper: ``other=value|value``, or empty."""
        rule = self.SHOWN_IF.get(name)
        return f"{rule[0]}={'|'.join(rule[1])}" if rule else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        name, site = (data.get("system") or "").strip(), data.get("site")
        known = self.systems is None or self.systems.filter(site=site, name=name).exists()
        if name and site and not known and not data.get("new_system"):
            self.add_error(
                "system",
                _(
                    "%(site)s has no system named %(name)s: pick one from the list, or tick “%(new)s” to create it."
                )
                % {"site": site.name, "name": name, "new": self.fields["new_system"].label},
            )
        if data.get("generate"):
            if data.get("kind") == SecretKind.ORIGINAL:
                self.add_error(
                    "generate", _("An original password (表9) is entered as received, not generated.")
                )
            return data
        if not data.get("secret"):
            self.add_error("secret", _("Enter the secret, or choose to generate one."))
        elif data.get("secret") != data.get("secret_again"):
            self.add_error("secret_again", _("The two entries differ: type the secret again in both fields."))
        return data


class RevealRequestForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=RevealPurpose.choices)
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class ApproveForm(forms.Form):
    code = forms.CharField(
        label=_("Your current 6-digit code"),
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class VerifyForm(forms.Form):
    result = forms.ChoiceField(label=_("Login test"), choices=VerifyResult.choices)
