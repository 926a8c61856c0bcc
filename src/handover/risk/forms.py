"""Page forms of security management: shape only; the services decide."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from handover.risk.models import (
    Category,
    ChangeKind,
    ChangeState,
    ClockKind,
    Criticality,
    DecisionKind,
    Filing,
    Scenario,
    Substitutability,
    SupplierState,
)


class IncidentForm(forms.Form):
    number = forms.CharField(label=_("Incident no."), max_length=40)
    title = forms.CharField(label=_("Title"), max_length=200)
    system_name = forms.CharField(label=_("System"), max_length=200)
    system_class = forms.IntegerField(label=_("System class (1-5)"), min_value=1, max_value=5,
                                      help_text=_("五类 is the most important."))  # fmt: skip
    trading_system = forms.BooleanField(label=_("A trading system"), required=False)
    detected_at = forms.DateTimeField(label=_("Detected at"), help_text=_("e.g. 2026-12-09 10:00"))
    down_minutes = forms.IntegerField(label=_("Service impaired (minutes)"), min_value=0, initial=0)
    affected_pct = forms.DecimalField(label=_("Users affected (%)"), min_value=0, max_value=100, initial=0)
    leaked_records = forms.IntegerField(label=_("Investor records leaked"), min_value=0, initial=0)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea, required=False)


class ReportForm(forms.Form):
    kind = forms.ChoiceField(label=_("Report"), choices=ClockKind.choices)
    text = forms.CharField(label=_("What was reported, to whom"), max_length=500)


class EvidenceForm(forms.Form):
    duty = forms.CharField(label=_("Duty (M01–M39)"), max_length=8)
    description = forms.CharField(label=_("Evidence"), max_length=300)
    reference = forms.CharField(label=_("Reference"), max_length=300, required=False)


class RiskForm(forms.Form):
    number = forms.CharField(label=_("Risk no."), max_length=40)
    title = forms.CharField(label=_("Risk"), max_length=200)
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int)
    inherent_likelihood = forms.IntegerField(label=_("Inherent likelihood"))
    inherent_impact = forms.IntegerField(label=_("Inherent impact"))
    current_likelihood = forms.IntegerField(label=_("Current likelihood"))
    current_impact = forms.IntegerField(label=_("Current impact"))
    residual_likelihood = forms.IntegerField(label=_("Residual likelihood"), required=False)
    residual_impact = forms.IntegerField(label=_("Residual impact"), required=False)

    def __init__(self, data: Any = None, *, people: Sequence[tuple[int, str]] = ()) -> None:
        super().__init__(data)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.TypedChoiceField)
        owner.choices = list(people)


class PlanForm(forms.Form):
    title = forms.CharField(label=_("Plan"), max_length=200)
    scenarios = forms.MultipleChoiceField(label=_("Scenarios"), choices=Scenario.choices,
                                          widget=forms.CheckboxSelectMultiple)  # fmt: skip
    procedures = forms.CharField(label=_("Procedures"), widget=forms.Textarea)
    effective_on = forms.DateField(label=_("In force from"), help_text=_("e.g. 2026-12-01"))
    feasibility_checked_on = forms.DateField(
        label=_("Feasibility checked on (第十六条第5项)"), required=False
    )


class VulnImportForm(forms.Form):
    file = forms.FileField(label=_("Scan file"), help_text=_(".nessus, OpenVAS XML, CSV or xlsx"))
    format = forms.ChoiceField(
        label=_("Format"),
        choices=[
            ("nessus", "Nessus (.nessus)"),
            ("openvas", "OpenVAS / GVM (XML)"),
            ("csv", _("CSV or xlsx (Nessus CSV or a table with Chinese headers)")),
        ],
    )
    scanner = forms.CharField(label=_("Tool of a CSV"), max_length=40, required=False,
                              help_text=_("e.g. rsas; its check ids are that tool's"))  # fmt: skip
    scanned_at = forms.DateTimeField(label=_("Scan time, if the file does not say"), required=False,
                                     help_text=_("e.g. 2026-12-05 22:00"))  # fmt: skip


class VulnDecisionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Decision"), choices=DecisionKind.choices)
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    expires_on = forms.DateField(label=_("Accepted until"), required=False, help_text=_("e.g. 2027-03-31"))


class VulnFixForm(forms.Form):
    note = forms.CharField(
        label=_("What was done"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )


class SupplierForm(forms.Form):
    organisation = forms.TypedChoiceField(label=_("Organisation"), coerce=int)
    services = forms.CharField(label=_("Services"), max_length=300, required=False)
    criticality = forms.ChoiceField(label=_("Criticality"), choices=Criticality.choices)
    substitutability = forms.ChoiceField(label=_("Substitutability"), choices=Substitutability.choices)
    state = forms.ChoiceField(label=_("State"), choices=SupplierState.choices, initial="active")
    exit_plan = forms.CharField(
        label=_("Exit plan"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    filing = forms.ChoiceField(label=_("备案"), choices=Filing.choices)
    filing_reference = forms.CharField(label=_("备案 reference"), max_length=200, required=False,
                                       help_text=_("the filing's number or the receipt"))  # fmt: skip
    filed_on = forms.DateField(label=_("Filed on"), required=False, help_text=_("e.g. 2026-03-31"))

    def __init__(self, data: Any = None, *, organisations: Sequence[tuple[int, str]] = ()) -> None:
        super().__init__(data)
        field = self.fields["organisation"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = list(organisations)


class ChangeForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ChangeKind.choices, initial="modify")
    title = forms.CharField(label=_("Change"), max_length=200)
    system = forms.TypedChoiceField(label=_("System"), coerce=int, required=False, empty_value=None)
    system_name = forms.CharField(label=_("Or the system's name"), max_length=200, required=False)
    trading_system = forms.BooleanField(label=_("A trading system (when not chosen above)"), required=False)
    risk_assessment = forms.CharField(label=_("Risk assessment"), widget=forms.Textarea(attrs={"rows": 2}))
    test_evidence = forms.CharField(label=_("Test evidence"), widget=forms.Textarea(attrs={"rows": 2}))
    rollback_plan = forms.CharField(label=_("Rollback plan"), widget=forms.Textarea(attrs={"rows": 2}))
    window_start = forms.DateTimeField(label=_("Window starts"), help_text=_("e.g. 2026-12-07 18:00"))
    window_end = forms.DateTimeField(label=_("Window ends"), help_text=_("e.g. 2026-12-07 22:00"))
    notice_required = forms.BooleanField(label=_("Investors must be told"), required=False)
    t36_row = forms.IntegerField(label=_("表36 row (第三十八条, a new system in custody)"), required=False)

    def __init__(self, data: Any = None, *, systems: Sequence[tuple[int, str]] = ()) -> None:
        super().__init__(data)
        field = self.fields["system"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "—"), *systems]


class FreezeForm(forms.Form):
    starts_on = forms.DateField(label=_("From"), help_text=_("e.g. 2027-03-04"))
    ends_on = forms.DateField(label=_("To"), help_text=_("e.g. 2027-03-11"))
    reason = forms.CharField(label=_("Reason"), max_length=200)


class NoticeForm(forms.Form):
    published_at = forms.DateTimeField(label=_("Published at"), help_text=_("e.g. 2026-12-03 18:00"))
    reference = forms.CharField(label=_("Where"), max_length=300, help_text=_("website, app, branch posting"))


class CloseForm(forms.Form):
    state = forms.ChoiceField(
        label=_("Outcome"),
        choices=[
            (value, label)
            for value, label in ChangeState.choices
            if value in ("done", "rolled_back", "cancelled")
        ],
    )
    result = forms.CharField(label=_("What happened"), widget=forms.Textarea(attrs={"rows": 2}))


class CapacityForm(forms.Form):
    system = forms.TypedChoiceField(label=_("System"), coerce=int, required=False, empty_value=None)
    system_name = forms.CharField(label=_("Or the system's name"), max_length=200, required=False)
    metric = forms.CharField(label=_("Measure"), max_length=100, help_text=_("e.g. 委托笔数/秒"))
    peak = forms.DecimalField(label=_("Historical peak"), max_digits=14, decimal_places=2)
    peak_on = forms.DateField(label=_("Peak on"), help_text=_("e.g. 2026-03-31"))
    tested = forms.DecimalField(label=_("Tested capacity"), max_digits=14, decimal_places=2)
    tested_on = forms.DateField(label=_("Tested on"), help_text=_("e.g. 2026-11-20"))
    report = forms.FileField(label=_("Test report"))

    def __init__(
        self, data: Any = None, files: Any = None, *, systems: Sequence[tuple[int, str]] = ()
    ) -> None:
        super().__init__(data, files)
        field = self.fields["system"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "—"), *systems]


class ActivityForm(forms.Form):
    name = forms.CharField(label=_("Processing activity"), max_length=200, help_text=_("e.g. 开户身份核验"))
    purpose = forms.CharField(label=_("Purpose"), widget=forms.Textarea(attrs={"rows": 2}))
    basis = forms.CharField(
        label=_("Legal basis"), max_length=200, help_text=_("e.g. 履行合同所必需；法定义务")
    )
    categories = forms.MultipleChoiceField(label=_("Categories"), choices=Category.choices,
                                           widget=forms.CheckboxSelectMultiple)  # fmt: skip
    systems = forms.MultipleChoiceField(label=_("Systems"), widget=forms.CheckboxSelectMultiple)
    recipients = forms.CharField(label=_("Recipients and sharing"), required=False,
                                 widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    outside_boundary = forms.BooleanField(label=_("Processed outside the protection boundary (三(三)三)"),
                                          required=False)  # fmt: skip
    outside_measures = forms.CharField(label=_("Measures outside the boundary"), required=False,
                                       widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    retention = forms.CharField(label=_("Retention"), max_length=200, help_text=_("e.g. 销户后 20 年"))
    biometric_assessment = forms.CharField(label=_("Necessity and security assessment (三(三)四)"), required=False,
                                           widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    assessed_on = forms.DateField(label=_("Assessed on"), required=False, help_text=_("e.g. 2026-06-30"))

    def __init__(self, data: Any = None, *, systems: Sequence[str] = ()) -> None:
        super().__init__(data)
        field = self.fields["systems"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(name, name) for name in systems]


class FilingForm(forms.Form):
    key = forms.CharField(widget=forms.HiddenInput, max_length=100)
    filed_at = forms.DateTimeField(label=_("Filed at"), help_text=_("e.g. 2027-04-28 16:00"))
    reference = forms.CharField(
        label=_("Receipt"), max_length=300, help_text=_("its number, or the acknowledgement")
    )


class AssessmentIssueForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Report"),
        choices=[
            ("initial", "初步风险评估报告（第二十条第8项）"),
            ("security", "信息系统安全评估报告（第二十六条第9项）"),
            ("overall", "信息系统整体风险评估报告（第三十二~三十六条）"),
        ],
    )
    assessors = forms.CharField(
        label=_("Assessors"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("persons, organisation and qualification (第二十六条第9项: professionals)"),
    )
    scope = forms.CharField(label=_("Scope"), widget=forms.Textarea(attrs={"rows": 2}))


class AcceptanceForm(forms.Form):
    risk = forms.TypedChoiceField(label=_("Risk"), coerce=int)
    reason = forms.CharField(
        label=_("Why the risk may be accepted"), widget=forms.Textarea(attrs={"rows": 2})
    )
    expires_on = forms.DateField(label=_("Accepted until"), help_text=_("e.g. 2027-03-31"))

    def __init__(self, data: Any = None, *, risks: Sequence[tuple[int, str]] = ()) -> None:
        super().__init__(data)
        field = self.fields["risk"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = list(risks)


class DrillForm(forms.Form):
    plan_version = forms.TypedChoiceField(label=_("Plan"), coerce=int)
    scenario = forms.ChoiceField(label=_("Scenario"), choices=Scenario.choices)
    due_on = forms.DateField(label=_("Due on"), help_text=_("e.g. 2026-12-20"))
    held_on = forms.DateField(label=_("Held on"), required=False, help_text=_("empty while only planned"))
    participants = forms.CharField(label=_("Participants"), max_length=500, required=False)
    outcome = forms.CharField(label=_("Outcome"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    report_ref = forms.CharField(label=_("Report"), max_length=200, required=False)

    def __init__(self, data: Any = None, *, versions: Sequence[tuple[int, str]] = ()) -> None:
        super().__init__(data)
        field = self.fields["plan_version"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = list(versions)


class NoticeToPartyForm(forms.Form):
    party = forms.CharField(label=_("Party told"), max_length=200, help_text=_("e.g. 上海证券交易所"))
    channel = forms.CharField(label=_("Channel"), max_length=100, help_text=_("e.g. 电话、公告"))
    notified_at = forms.DateTimeField(label=_("Told at"), help_text=_("e.g. 2026-12-09 11:00"))
    summary = forms.CharField(label=_("What was said"), widget=forms.Textarea(attrs={"rows": 2}))


class RestoreForm(forms.Form):
    at = forms.DateTimeField(label=_("Service restored at"), help_text=_("e.g. 2026-12-09 11:30"))


class RegradeForm(forms.Form):
    down_minutes = forms.IntegerField(label=_("Service impaired (minutes)"), min_value=0)
    affected_pct = forms.DecimalField(label=_("Users affected (%)"), min_value=0, max_value=100)
    leaked_records = forms.IntegerField(label=_("Investor records leaked"), min_value=0)


class LinkForm(forms.Form):
    t39_row = forms.IntegerField(label=_("表39 row id"), required=False)
    t40_row = forms.IntegerField(label=_("表40 row id"), required=False)
