"""Forms of the workflow pages: they check the shape of the input; the services decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from handover.org.models import Phase
from handover.workflow import paths, steps
from handover.workflow.deadlines import BEIJING
from handover.workflow.services.phases import NEXT_PHASE


class BeijingDateTimeField(forms.DateTimeField):
    """A date and time typed as Beijing wall-clock time, whatever the server's zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]

    def to_python(self, value: Any) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        return parsed.replace(tzinfo=None).replace(tzinfo=BEIJING)


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class EvidenceForm(forms.Form):
    file = forms.FileField(label=_("File"))
    description = forms.CharField(label=_("Description"), max_length=300, required=False)


class FeedbackForm(forms.Form):
    """第二十七条第2项: why the step is late, and when it will be done."""

    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    expected_at = BeijingDateTimeField(label=_("Expected completion (Beijing time)"))


class DeadlineForm(forms.Form):
    step_id = forms.ChoiceField(
        label=_("Step"), choices=[(s.id, f"{s.id} {s.zh}") for s in steps.STEPS if not s.derived]
    )
    day = forms.IntegerField(label=_("Days after D"), min_value=-60, max_value=60)
    time = forms.CharField(label=_("Time (HH:MM, Beijing)"), max_length=5)


class PhaseForm(forms.Form):
    """UX review M6: the only choice is the next phase of the engagement (none once in 稳定期), preselected."""

    to_phase = forms.ChoiceField(label=_("Move to"))
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)

    def __init__(self, *args: Any, current: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        following = NEXT_PHASE.get(Phase(current))
        field = self.fields["to_phase"]
        field.choices = [(following, Phase(following).label)] if following else []  # type: ignore[attr-defined]
        field.initial = following


class ReportForm(forms.Form):
    text = forms.CharField(label=_("Report"), widget=forms.Textarea(attrs={"rows": 5}), max_length=8000)
    feedback = forms.MultipleChoiceField(
        label=_("Feedback covered"), required=False, widget=forms.CheckboxSelectMultiple
    )
    escalations = forms.MultipleChoiceField(
        label=_("Escalations covered"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self, *args: Any, feedback: list[tuple[int, str]], escalations: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["feedback"].choices = feedback  # type: ignore[attr-defined]
        self.fields["escalations"].choices = escalations  # type: ignore[attr-defined]


class CaseOpenForm(forms.Form):
    path_id = forms.ChoiceField(
        label=_("Exception path"), choices=[(p.id, f"{p.id} {p.zh}") for p in paths.PATHS]
    )
    sub_type = forms.ChoiceField(
        label=_("Sub-type"),
        required=False,
        choices=[("", "—")] + [(t, f"{p.id} {t}") for p in paths.PATHS for t in p.sub_types],
    )
    source_row = forms.IntegerField(
        label=_("Source register row (id)"),
        required=False,
        help_text=_("The row where the problem shows, e.g. the 表10 row whose test failed (E01)."),
    )
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )


class CaseTickForm(forms.Form):
    key = forms.ChoiceField(label=_("Checklist item"))
    record = forms.CharField(
        label=_("Record"),
        required=False,
        max_length=200,
        help_text=_(
            "The consent's reference (E02), the courier's waybill number (E08), the developer's name."
        ),
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(label=_("Attachment"), required=False)

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = choices  # type: ignore[attr-defined]


class CaseLinkForm(forms.Form):
    row = forms.ChoiceField(label=_("表39 entry"))

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["row"].choices = choices  # type: ignore[attr-defined]


class DutyForm(forms.Form):
    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, sites: Any, people: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"] = forms.ModelChoiceField(label=_("Site"), queryset=sites)
        self.fields["person"] = forms.ModelChoiceField(label=_("Person"), queryset=people)
        self.order_fields(["site", "day", "person"])
