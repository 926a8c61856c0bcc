"""Shapes of the workflow's REST API (workflow/api.py): reads render what the selectors return, writes are
checked here for shape only and decided by the services.

Derived state (state.StepView) is rendered, never stored: a step's ``state`` comes from its registers.
Evidence is shown by name, size and SHA-256, never by where it is kept.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from handover.org.models import Phase, SiteLevel
from handover.workflow import deadlines, paths, state
from handover.workflow.models import CaseState, Evidence, Feedback, PhaseTransition, WorkingGroupReport

PHASES = [Phase.HANDOVER, Phase.STABILISATION]  # the phases an engagement can move to


# Reads ---------------------------------------------------------------------------------------------------


class StepSerializer(serializers.Serializer):
    """A step instance with its derived state (state.py): due, done_at, what it waits for, what blocks it."""

    id = serializers.IntegerField(source="instance_id")
    step = serializers.CharField(source="step.id", help_text="The 附件二 step, e.g. T-01.")
    name = serializers.CharField(source="step.zh")
    phase = serializers.CharField(source="step.phase")
    site = serializers.SerializerMethodField(help_text="The site's code; null for an engagement-level step.")
    site_id = serializers.IntegerField(allow_null=True)
    state = serializers.ChoiceField(choices=state.STATES)
    due = serializers.DateTimeField(allow_null=True)
    done_at = serializers.DateTimeField(allow_null=True)
    waiting_for = serializers.ListField(
        child=serializers.CharField(), help_text="Predecessor steps not done yet (附件二 order)."
    )
    gate_reasons = serializers.ListField(
        child=serializers.CharField(), help_text="Register rules that block the step."
    )
    missing_registers = serializers.ListField(
        child=serializers.IntegerField(), help_text="Output registers (表N) still without a signed form."
    )
    outputs = serializers.ListField(source="step.outputs", child=serializers.IntegerField())
    responsible = serializers.ListField(source="step.responsible", child=serializers.CharField())
    needs_feedback = serializers.BooleanField(
        help_text="Overdue with no same-day feedback (第二十七条第2项)."
    )
    needs_escalation = serializers.BooleanField()
    feedback_count = serializers.IntegerField()
    escalated_at = serializers.DateTimeField(allow_null=True)

    def get_site(self, view: Any) -> str | None:
        codes: dict[int, str] = self.context.get("site_codes", {})
        return codes.get(view.site_id) if view.site_id is not None else None


class NoteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    author = serializers.CharField(source="author.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


class EvidenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Evidence
        fields = ["id", "name", "description", "sha256", "size", "uploaded_at"]
        read_only_fields = fields


class FeedbackSerializer(serializers.ModelSerializer):
    reported_by = serializers.CharField(source="reported_by.name", read_only=True)
    step_instance = serializers.IntegerField(source="step_id", read_only=True)

    class Meta:
        model = Feedback
        fields = ["id", "step_instance", "reason", "expected_at", "reported_by", "reported_at", "wg_report"]
        read_only_fields = fields


class StepDetailSerializer(serializers.Serializer):
    """One step: its state, and the notes, evidence and same-day feedback people added around it."""

    step = StepSerializer(source="view")
    notes = NoteSerializer(many=True)
    evidence = EvidenceSerializer(many=True)
    feedback = FeedbackSerializer(many=True)


class SiteRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.ChoiceField(choices=SiteLevel.choices)


class CaseSerializer(serializers.Serializer):
    """An exception case (第二十八条) as listed."""

    id = serializers.IntegerField(source="pk")
    path_id = serializers.CharField()
    path_name = serializers.SerializerMethodField()
    sub_type = serializers.CharField()
    site = serializers.CharField(source="site.code")
    site_id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=CaseState.choices)
    description = serializers.CharField()
    source_row = serializers.IntegerField(source="source_row_id", allow_null=True)
    t39_row = serializers.IntegerField(source="t39_row_id", allow_null=True)
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)

    def get_path_name(self, case: Any) -> str:
        return paths.BY_ID[case.path_id].zh


class SitePageSerializer(serializers.Serializer):
    """One site's steps in 附件二 order, its exception cases and its same-day feedback."""

    site = SiteRefSerializer()
    steps = StepSerializer(source="views", many=True)
    cases = CaseSerializer(many=True)
    feedback = FeedbackSerializer(many=True)


class ChecklistEntrySerializer(serializers.Serializer):
    """A prescribed item of the path: what it needs (``record``: consent, courier_no, vendor) and, once done,
    what was recorded."""

    key = serializers.CharField(source="item.key")
    name = serializers.CharField(source="item.zh")
    record_needed = serializers.CharField(source="item.record", help_text="Empty: no record needed.")
    after = serializers.ListField(source="item.after", child=serializers.CharField())
    optional = serializers.BooleanField(source="item.optional")
    done = serializers.SerializerMethodField()
    record = serializers.CharField(source="done.record", default="")
    note = serializers.CharField(source="done.note", default="")
    done_at = serializers.DateTimeField(source="done.done_at", default=None)
    evidence = EvidenceSerializer(source="done.evidence", default=None)

    def get_done(self, entry: Any) -> bool:
        return entry.done is not None


class T39Serializer(serializers.Serializer):
    """The case's 表39 entry in its current version."""

    row = serializers.IntegerField(source="pk")
    form = serializers.IntegerField(source="form_id")
    form_no = serializers.CharField(source="form.form_no")
    form_state = serializers.CharField(source="form.state")
    seq = serializers.IntegerField()


class CaseDetailSerializer(serializers.Serializer):
    case = CaseSerializer()
    checklist = ChecklistEntrySerializer(many=True)
    t39 = T39Serializer(allow_null=True)
    close_refusal = serializers.CharField(help_text="Why the case cannot close now; empty when it can.")


class CompletionSerializer(serializers.Serializer):
    """(label, done, total) of the overview, with the key (phase or level) the label stands for."""

    key = serializers.CharField()
    name = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        name, done, total = instance
        keys: dict[str, str] = self.context.get("keys", {})
        return {"key": keys.get(name, ""), "name": name, "done": done, "total": total}


def completion(rows: list[tuple[str, int, int]], choices: Any) -> list[dict[str, Any]]:
    """The selectors' (label, done, total) rows with the key (phase or level) each label stands for."""
    keys = {str(label): value for value, label in choices}
    return CompletionSerializer(rows, many=True, context={"keys": keys}).data  # type: ignore[return-value]


class OpenCasesSerializer(serializers.Serializer):
    path_id = serializers.CharField()
    name = serializers.CharField()
    count = serializers.IntegerField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        path_id, name, count = instance
        return {"path_id": path_id, "name": name, "count": count}


class OverdueSerializer(serializers.Serializer):
    site = serializers.CharField(allow_null=True)
    step = serializers.CharField()
    id = serializers.IntegerField()
    due = serializers.DateTimeField()
    needs_feedback = serializers.BooleanField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        site, view = instance
        return {
            "site": site.code if site else None,
            "step": view.step.id,
            "id": view.instance_id,
            "due": serializers.DateTimeField().to_representation(view.due) if view.due else None,
            "needs_feedback": view.needs_feedback,
        }


class SummarySerializer(serializers.Serializer):
    """The overview's figures (selectors.overview) at the user's sites."""

    phase = serializers.CharField()
    by_phase = serializers.SerializerMethodField()
    by_level = serializers.SerializerMethodField()
    state_counts = serializers.DictField(child=serializers.IntegerField(), help_text="Current phase.")
    overdue_total = serializers.IntegerField()
    overdue = OverdueSerializer(many=True, help_text="The longest-late first, at most 30.")
    open_cases = OpenCasesSerializer(many=True)
    sites = serializers.SerializerMethodField()
    sites_without_onsite_post = SiteRefSerializer(many=True)

    @extend_schema_field(CompletionSerializer(many=True))
    def get_by_phase(self, data: Any) -> list[dict[str, Any]]:
        return completion(data.by_phase, Phase.choices)

    @extend_schema_field(CompletionSerializer(many=True))
    def get_by_level(self, data: Any) -> list[dict[str, Any]]:
        return completion(data.by_level, SiteLevel.choices)

    def get_sites(self, data: Any) -> int:
        return len(data.rows)


class ObserverSummarySerializer(serializers.Serializer):
    """Counts only, for 托管工作组 and 证监局 (selectors.observer_summary): no people, no site names."""

    phase = serializers.CharField()
    sites = serializers.IntegerField()
    by_phase = serializers.SerializerMethodField()
    by_level = serializers.SerializerMethodField()
    overdue = serializers.IntegerField()
    open_cases = OpenCasesSerializer(many=True)
    feedback = serializers.IntegerField()
    escalations = serializers.IntegerField()

    @extend_schema_field(CompletionSerializer(many=True))
    def get_by_phase(self, data: Any) -> list[dict[str, Any]]:
        return completion(data.by_phase, Phase.choices)

    @extend_schema_field(CompletionSerializer(many=True))
    def get_by_level(self, data: Any) -> list[dict[str, Any]]:
        return completion(data.by_level, SiteLevel.choices)


class TransitionSerializer(serializers.ModelSerializer):
    signed_by = serializers.CharField(source="signed_by.name", read_only=True)
    from_phase = serializers.CharField(read_only=True)  # the phase keys, as Engagement.phase holds them
    to_phase = serializers.CharField(read_only=True)

    class Meta:
        model = PhaseTransition
        fields = ["id", "from_phase", "to_phase", "reason", "signed_by", "signed_at", "basis_form"]
        read_only_fields = fields


class EscalationSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    step_instance = serializers.IntegerField(source="step_id")
    step = serializers.CharField(source="step.step_id")
    site = serializers.CharField(source="step.site.code", default=None)
    raised_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()


class UnreportedSerializer(serializers.Serializer):
    feedback = FeedbackSerializer(many=True)
    escalations = EscalationSerializer(many=True)


class ReportSerializer(serializers.ModelSerializer):
    reported_by = serializers.CharField(source="reported_by.name", read_only=True)
    feedback: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    escalations: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = WorkingGroupReport
        fields = ["id", "text", "reported_by", "reported_at", "feedback", "escalations"]
        read_only_fields = fields


# Filters and writes (shape only) ------------------------------------------------------------------------


class StepFilters(serializers.Serializer):
    site = serializers.CharField(required=False, help_text="A site's code: that site and its subtree.")
    phase = serializers.ChoiceField(choices=Phase.choices, required=False)
    state = serializers.ChoiceField(choices=state.STATES, required=False)


class CaseFilters(serializers.Serializer):
    site = serializers.CharField(required=False, help_text="A site's code: that site and its subtree.")
    path = serializers.ChoiceField(choices=[p.id for p in paths.PATHS], required=False)
    state = serializers.ChoiceField(choices=CaseState.choices, required=False)


class FeedbackWrite(serializers.Serializer):
    """第二十七条第2项: why the step is late and when it will be done."""

    reason = serializers.CharField(max_length=4000)
    expected_at = serializers.DateTimeField(
        default_timezone=deadlines.BEIJING,
        help_text="ISO 8601; without an offset it is read as Beijing time.",
    )


class NoteWrite(serializers.Serializer):
    text = serializers.CharField(max_length=4000)


class ConfirmWrite(serializers.Serializer):
    note = serializers.CharField(
        max_length=4000, help_text="What was done and where its record is; kept with the step."
    )


class EvidenceWrite(serializers.Serializer):
    file = serializers.FileField()
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class CaseOpenWrite(serializers.Serializer):
    path_id = serializers.ChoiceField(choices=[p.id for p in paths.PATHS])
    source_row = serializers.IntegerField(
        required=False, allow_null=True, help_text="Id of the register row where the problem shows."
    )
    site = serializers.CharField(
        required=False, allow_blank=True, help_text="A site's code; only for E11/E12, which need no row."
    )
    sub_type = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)
    description = serializers.CharField(max_length=4000)


class CaseTickWrite(serializers.Serializer):
    key = serializers.CharField(max_length=24, help_text="A checklist item's key.")
    record = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=200,
        help_text="The consent's reference (E02), the courier's waybill number (E08), the developer.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    file = serializers.FileField(required=False)


class CaseLinkWrite(serializers.Serializer):
    row = serializers.IntegerField(help_text="Id of the 表39 row that ends the path.")


class PhaseWrite(serializers.Serializer):
    to_phase = serializers.ChoiceField(choices=PHASES)
    reason = serializers.CharField(max_length=2000)


class ReportWrite(serializers.Serializer):
    text = serializers.CharField(max_length=8000)
    feedback: serializers.ListField = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, help_text="Feedback ids covered."
    )
    escalations: serializers.ListField = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, help_text="Escalation ids covered."
    )
