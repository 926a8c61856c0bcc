"""Page forms of backup verification: shape only; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class BundleUploadForm(forms.Form):
    file = forms.FileField(label=_("Bundle file"), help_text=_("Made with 'handover-agent bundle'."))


class KeyFileForm(forms.Form):
    file = forms.FileField(
        label=_("Public key file"), help_text=_("Made with 'handover-agent enroll --export FILE'.")
    )
    label = forms.CharField(label=_("Label"), max_length=100, required=False)
