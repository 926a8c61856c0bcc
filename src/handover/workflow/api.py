"""REST endpoints of the 附件二 workflow, under ``/api/engagements/{code}/workflow/``: step instances with
their derived state, same-day feedback, confirmation and evidence, exception cases (第二十八条), the overview's
figures, the phase transition and 技术组's report to the working group.

The same selectors read and the same services write as on the pages (workflow/views), with the same
capabilities: a person sees and acts only at the sites of their roles. A service's refusal becomes a 400
naming the field (``{"detail", "code", "field", <field>: [message]}``, api/errors.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from handover.api.base import EngagementScopedViewSet
from handover.core import clock
from handover.core.errors import NotFound
from handover.core.uploads import upload_kind
from handover.org import permissions as perms
from handover.org.models import Phase
from handover.registers import selectors as register_selectors
from handover.registers.models import Row
from handover.workflow import paths, selectors, services, state
from handover.workflow import serializers as s
from handover.workflow.models import CaseState, ExceptionCase, StepInstance


class _WorkflowScoped(EngagementScopedViewSet):
    """Reading needs view_workflow; each write names its capability in ``WRITES`` (by action)."""

    read_capability = perms.VIEW_WORKFLOW
    WRITES: dict[str, str] = {}
    lookup_value_regex = r"[0-9]+"

    @property
    def write_capability(self) -> str:  # type: ignore[override]
        return self.WRITES.get(self.action or "", perms.MANAGE_WORKFLOW)

    def _body(self, serializer_class: Any) -> dict[str, Any]:
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return dict(body.validated_data)

    def _filters(self, serializer_class: Any) -> dict[str, Any]:
        params = serializer_class(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return dict(params.validated_data)

    def _site(self, code: str) -> Any:
        return selectors.site_by_code(user=self.request.user, engagement=self.engagement, code=code)

    def _row(self, row_id: int, field: str) -> Row:
        """A register row at the user's sites; one elsewhere is not found, under the input's name."""
        try:
            return register_selectors.row_get(
                user=self.request.user, engagement=self.engagement, row_id=row_id
            )
        except NotFound as exc:
            raise NotFound(exc.message, field=field) from None


STEP_FILTERS = [
    OpenApiParameter("site", OpenApiTypes.STR, description="A site's code: that site and its subtree"),
    OpenApiParameter("phase", OpenApiTypes.STR, enum=list(Phase.values)),
    OpenApiParameter("state", OpenApiTypes.STR, enum=list(state.STATES)),
]


@extend_schema_view(
    list=extend_schema(parameters=STEP_FILTERS, responses=s.StepSerializer(many=True)),
    retrieve=extend_schema(responses=s.StepDetailSerializer),
)
class StepViewSet(_WorkflowScoped):
    """Step instances at your sites with their state derived from the registers (never ticked by hand)."""

    serializer_class = s.StepSerializer
    lookup_url_kwarg = "instance_id"
    WRITES = {
        "feedback": perms.REPORT_FEEDBACK,
        "confirm": perms.WORK_STEPS,
        "note": perms.WORK_STEPS,
        "evidence": perms.WORK_STEPS,
    }

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Every step instance you may see; engagement-level ones too unless ``site`` is given."""
        f = self._filters(s.StepFilters)
        found = selectors.step_list(
            user=request.user,
            engagement=self.engagement,
            now=clock.now(),
            site=self._site(f["site"]) if f.get("site") else None,
            phase=f.get("phase", ""),
            state_=f.get("state", ""),
        )
        page: Any = self.paginate_queryset(found.views)  # type: ignore[arg-type]
        data = s.StepSerializer(page, many=True, context={"site_codes": found.site_codes}).data
        return self.get_paginated_response(data)

    def _step(self, capability: str = perms.VIEW_WORKFLOW) -> StepInstance:
        return selectors.step_get(
            user=self.request.user,
            engagement=self.engagement,
            instance_id=int(self.kwargs["instance_id"]),
            capability=capability,
        )

    def _answer(self, instance: StepInstance, code: int = status.HTTP_200_OK) -> Response:
        view = selectors.step_view(
            user=self.request.user, engagement=self.engagement, instance=instance, now=clock.now()
        )
        codes = {instance.site_id: instance.site.code} if instance.site else {}
        detail = {
            "view": view,
            "notes": instance.notes.select_related("author"),
            "evidence": instance.evidence.all(),
            "feedback": instance.feedback.select_related("reported_by"),
        }
        return Response(s.StepDetailSerializer(detail, context={"site_codes": codes}).data, status=code)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One step with its notes, evidence and same-day feedback."""
        return self._answer(self._step())

    @extend_schema(request=s.FeedbackWrite, responses={201: s.FeedbackSerializer})
    @action(detail=True, methods=["post"])
    def feedback(self, request: Request, code: str, instance_id: str) -> Response:
        """第二十七条第2项: the site's 现场技术岗位 reports a late step the same day (reason, expected completion)."""
        instance = self._step(perms.REPORT_FEEDBACK)
        d = self._body(s.FeedbackWrite)
        feedback = services.feedback_record(
            actor=request.user, step=instance, reason=d["reason"], expected_at=d["expected_at"]
        )
        return Response(s.FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.NoteWrite, responses={201: s.StepDetailSerializer})
    @action(detail=True, methods=["post"])
    def note(self, request: Request, code: str, instance_id: str) -> Response:
        """A remark on the step (what was found, what is awaited)."""
        instance = self._step(perms.WORK_STEPS)
        services.step_note_add(actor=request.user, step=instance, text=self._body(s.NoteWrite)["text"])
        return self._answer(instance, status.HTTP_201_CREATED)

    @extend_schema(request={"multipart/form-data": s.EvidenceWrite}, responses={201: s.EvidenceSerializer})
    @action(detail=True, methods=["post"])
    @upload_kind("evidence")
    def evidence(self, request: Request, code: str, instance_id: str) -> Response:
        """Attach a file (a record, a photo, minutes); kept by its SHA-256, recorded in the trail."""
        instance = self._step(perms.WORK_STEPS)
        d = self._body(s.EvidenceWrite)
        evidence = services.step_evidence_add(
            actor=request.user,
            step=instance,
            name=d["file"].name,
            stream=d["file"],
            description=d["description"],
        )
        return Response(s.EvidenceSerializer(evidence).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ConfirmWrite, responses=s.StepDetailSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, code: str, instance_id: str) -> Response:
        """Confirm a step that has no output register (H-00, M-01 …): evidence first, then a note."""
        instance = self._step(perms.WORK_STEPS)
        note = self._body(s.ConfirmWrite)["note"]
        services.step_confirm(actor=request.user, step=instance, note=note)
        return self._answer(instance)


@extend_schema_view(retrieve=extend_schema(responses=s.SitePageSerializer))
class SiteStepsViewSet(_WorkflowScoped):
    """One site's steps, exception cases and same-day feedback."""

    serializer_class = s.SitePageSerializer
    lookup_url_kwarg = "site_id"

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = selectors.site_page(
            user=request.user, engagement=self.engagement, site_id=int(kwargs["site_id"]), now=clock.now()
        )
        codes = {page.site.pk: page.site.code}
        return Response(s.SitePageSerializer(page, context={"site_codes": codes}).data)


CASE_FILTERS = [
    OpenApiParameter("site", OpenApiTypes.STR, description="A site's code: that site and its subtree"),
    OpenApiParameter("path", OpenApiTypes.STR, enum=[p.id for p in paths.PATHS]),
    OpenApiParameter("state", OpenApiTypes.STR, enum=list(CaseState.values)),
]
CASE_WRITE = {"application/json": s.CaseTickWrite, "multipart/form-data": s.CaseTickWrite}


@extend_schema_view(
    list=extend_schema(parameters=CASE_FILTERS, responses=s.CaseSerializer(many=True)),
    retrieve=extend_schema(responses=s.CaseDetailSerializer),
    create=extend_schema(request=s.CaseOpenWrite, responses={201: s.CaseDetailSerializer}),
)
class CaseViewSet(_WorkflowScoped):
    """Exception cases (第二十八条) at your sites: start one from a register row, tick its checklist with the
    records it needs, link its 表39 entry, close it."""

    serializer_class = s.CaseSerializer
    lookup_url_kwarg = "case_id"
    WRITES = {
        "create": perms.HANDLE_EXCEPTIONS,
        "tick": perms.HANDLE_EXCEPTIONS,
        "link": perms.HANDLE_EXCEPTIONS,
        "close": perms.HANDLE_EXCEPTIONS,
    }

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        f = self._filters(s.CaseFilters)
        cases = selectors.case_list(
            user=request.user,
            engagement=self.engagement,
            case_state=f.get("state", ""),
            path_id=f.get("path", ""),
            site=self._site(f["site"]) if f.get("site") else None,
        )
        page = self.paginate_queryset(cases)
        return self.get_paginated_response(s.CaseSerializer(page, many=True).data)

    def _case(self, capability: str = perms.VIEW_WORKFLOW) -> ExceptionCase:
        return selectors.case_get(
            user=self.request.user,
            engagement=self.engagement,
            case_id=int(self.kwargs["case_id"]),
            capability=capability,
        )

    def _answer(self, case: ExceptionCase, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.case_get(user=self.request.user, engagement=self.engagement, case_id=case.pk)
        detail = {
            "case": fresh,
            "checklist": selectors.case_checklist(case=fresh),
            "t39": services.current_t39(fresh),
            "close_refusal": services.close_refusal(fresh),
        }
        return Response(s.CaseDetailSerializer(detail).data, status=code)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The case with its checklist, its 表39 entry and why it cannot close yet."""
        return self._answer(self._case())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Start a path from the register row where the problem shows (E11/E12: from a site)."""
        d = self._body(s.CaseOpenWrite)
        row = self._row(d["source_row"], "source_row") if d.get("source_row") else None
        site = self._site(d["site"]) if d.get("site") and row is None else None
        case = services.case_open(
            actor=request.user,
            engagement=self.engagement,
            path_id=d["path_id"],
            description=d["description"],
            site=site,
            source_row=row,
            sub_type=d["sub_type"],
        )
        return self._answer(case, status.HTTP_201_CREATED)

    @extend_schema(request=CASE_WRITE, responses={201: s.CaseDetailSerializer})
    @action(detail=True, methods=["post"])
    def tick(self, request: Request, code: str, case_id: str) -> Response:
        """Record a checklist item done, with its record (E02 the consent, E08 the courier's number)."""
        case = self._case(perms.HANDLE_EXCEPTIONS)
        d = self._body(s.CaseTickWrite)
        upload = d.get("file")
        services.case_tick(
            actor=request.user,
            case=case,
            key=d["key"],
            record=d["record"],
            note=d["note"],
            file_name=upload.name if upload else "",
            stream=upload,
        )
        return self._answer(case, status.HTTP_201_CREATED)

    @extend_schema(request=s.CaseLinkWrite, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def link(self, request: Request, code: str, case_id: str) -> Response:
        """Name the 表39 row that ends the path (the case's site, its type)."""
        case = self._case(perms.HANDLE_EXCEPTIONS)
        row = self._row(self._body(s.CaseLinkWrite)["row"], "row")
        services.case_link_t39(actor=request.user, case=case, row=row)
        return self._answer(case)

    @extend_schema(request=None, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, code: str, case_id: str) -> Response:
        """Close the path: refused (400, ``field: case``) until its 表39 entry is signed and reported to 技术组."""
        case = self._case(perms.HANDLE_EXCEPTIONS)
        services.case_close(actor=request.user, case=case)
        return self._answer(case)


@extend_schema_view(list=extend_schema(responses=s.SummarySerializer))
class SummaryViewSet(_WorkflowScoped):
    """The overview's figures at your sites: completion per phase and per level, overdue steps, open
    exceptions by path, sites without a 现场技术岗位 (a fixed number of queries)."""

    answers_one_object = True  # list() answers one object (api/schema.py)
    serializer_class = s.SummarySerializer
    pagination_class = None

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = selectors.overview(user=request.user, engagement=self.engagement, now=clock.now())
        return Response(s.SummarySerializer(data).data)


@extend_schema_view(list=extend_schema(responses=s.ObserverSummarySerializer))
class ObserverSummaryViewSet(_WorkflowScoped):
    """The observers' summary (托管工作组, 证监局): counts per phase and level, overdue steps, open exceptions by
    path, feedback and escalations; no people and no site names."""

    answers_one_object = True  # list() answers one object (api/schema.py)
    serializer_class = s.ObserverSummarySerializer
    read_capability = perms.VIEW_SUMMARY
    pagination_class = None

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = selectors.observer_summary(user=request.user, engagement=self.engagement, now=clock.now())
        return Response(s.ObserverSummarySerializer(data).data)


@extend_schema_view(create=extend_schema(request=s.PhaseWrite, responses={201: s.TransitionSerializer}))
class PhaseViewSet(_WorkflowScoped):
    """技术组 moves the engagement to its next phase, with a reason (第五条; 表24 signed for 稳定期)."""

    serializer_class = s.TransitionSerializer
    WRITES = {"create": perms.MANAGE_WORKFLOW}

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = self._body(s.PhaseWrite)
        transition = services.phase_transition(
            actor=request.user, engagement=self.engagement, to_phase=d["to_phase"], reason=d["reason"]
        )
        return Response(s.TransitionSerializer(transition).data, status=status.HTTP_201_CREATED)


def _chosen(items: Sequence[Any], ids: list[int], field: str) -> list[Any]:
    """The unreported items named by ``ids``; any other id is refused under ``field``."""
    by_id = {item.pk: item for item in items}
    unknown = sorted(set(ids) - set(by_id))
    if unknown:
        raise ValidationError(
            {field: [_("Not among the unreported items: %(ids)s.") % {"ids": ", ".join(map(str, unknown))}]}
        )
    return [by_id[i] for i in dict.fromkeys(ids)]


@extend_schema_view(
    list=extend_schema(responses=s.UnreportedSerializer),
    create=extend_schema(request=s.ReportWrite, responses={201: s.ReportSerializer}),
)
class ReportViewSet(_WorkflowScoped):
    """技术组's reports to 托管工作组 (第二十七条第2项): GET lists the feedback and escalations not yet reported,
    POST records a report covering some of them."""

    answers_one_object = True  # list() answers one object (api/schema.py)
    serializer_class = s.ReportSerializer
    read_capability = perms.MANAGE_WORKFLOW
    pagination_class = None
    WRITES = {"create": perms.MANAGE_WORKFLOW}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        feedback, escalations = selectors.unreported(user=request.user, engagement=self.engagement)
        return Response(s.UnreportedSerializer({"feedback": feedback, "escalations": escalations}).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = self._body(s.ReportWrite)
        feedback, escalations = selectors.unreported(user=request.user, engagement=self.engagement)
        report = services.wg_report_record(
            actor=request.user,
            engagement=self.engagement,
            text=d["text"],
            feedback=_chosen(feedback, d["feedback"], "feedback"),
            escalations=_chosen(escalations, d["escalations"], "escalations"),
        )
        return Response(s.ReportSerializer(report).data, status=status.HTTP_201_CREATED)
