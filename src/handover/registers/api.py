"""REST endpoints of the registers: forms and rows of all 41, with the pages' filters and permissions.

The same selectors read and the same services write as on the pages; row values are checked by the same
column-built form (registers.forms), so a message is the same wherever it is met. Row lists page by keyset
(``after`` / ``before`` / ``last``), never by offset, and never count.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from handover.api.base import EngagementScopedViewSet, RowCursorSchema
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Phase
from handover.registers import catalogue, seeding, selectors, services
from handover.registers.forms import ColumnsForm, api_form_data
from handover.registers.models import Form, FormState, Row, Signature, SignatureKind


class SignatureSerializer(serializers.ModelSerializer):
    person_name = serializers.CharField(source="person.name", read_only=True)

    class Meta:
        model = Signature
        fields = ["id", "kind", "role", "person", "person_name", "method", "signed_at"]


class FormSerializer(serializers.ModelSerializer):
    title = serializers.SerializerMethodField(
        help_text="The official title line, e.g. 表8：交接日系统备份登记表."
    )
    site_name = serializers.CharField(source="site.name", read_only=True)
    signatures = SignatureSerializer(many=True, read_only=True)

    class Meta:
        model = Form
        fields = [
            "id",
            "register_no",
            "title",
            "site",
            "site_name",
            "form_no",
            "form_date",
            "header",
            "state",
            "version",
            "is_current",
            "previous",
            "correction_reason",
            "created_at",
            "signatures",
        ]
        read_only_fields = fields

    def get_title(self, form: Form) -> str:
        return catalogue.get(form.register_no).title


class FormCreateSerializer(serializers.Serializer):
    register_no = serializers.IntegerField(min_value=1, max_value=41)
    site = serializers.IntegerField(help_text="Id of the reporting site (填报单位/站点).")
    form_date = serializers.DateField()
    form_no = serializers.CharField(required=False, allow_blank=True, max_length=60)
    header = serializers.DictField(required=False, help_text="The register's header fields, by key.")


class RowSerializer(serializers.ModelSerializer):
    register_no = serializers.IntegerField(source="form.register_no", read_only=True)
    signatures = SignatureSerializer(many=True, read_only=True)

    class Meta:
        model = Row
        fields = [
            "id",
            "form",
            "register_no",
            "seq",
            "data",
            "remarks",
            "version",
            "is_current",
            "previous",
            "correction_reason",
            "created_at",
            "signatures",
        ]
        read_only_fields = fields


class RowWriteSerializer(serializers.Serializer):
    data = serializers.DictField(  # type: ignore[assignment]  # the field, not Serializer.data
        help_text="Values by column key, as the register's columns declare them."
    )
    remarks = serializers.CharField(required=False, allow_blank=True, default="")


class RowCreateSerializer(RowWriteSerializer):
    form = serializers.IntegerField(help_text="Id of the open form the row is added to.")


class RowCorrectSerializer(RowWriteSerializer):
    reason = serializers.CharField(help_text="Why the signed row is corrected; kept with the new version.")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()


class RowSignSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[SignatureKind.EXECUTOR, SignatureKind.SUPERVISOR])


class _RegistersScoped(EngagementScopedViewSet):
    """Reading needs view_registers; writing needs fill_registers, except signing and archiving, where the
    role held at the site decides (a 被托管机构财务 signs footers without filling anything; only the site's
    现场技术岗位 or 技术组 archives)."""

    read_capability = perms.VIEW_REGISTERS

    @property
    def write_capability(self) -> str:  # type: ignore[override]
        return perms.VIEW_REGISTERS if self.action in ("sign", "archive") else perms.FILL_REGISTERS

    def _site_param(self) -> Any:
        site_id = self.request.query_params.get("site", "")
        if not site_id:
            return None
        if not site_id.isdecimal():
            raise ValidationError({"site": [_("A site id is a number.")]})
        return org_selectors.site_get(
            user=self.request.user,
            engagement=self.engagement,
            site_id=int(site_id),
            capability=perms.VIEW_REGISTERS,
        )

    def _register_param(self) -> int | None:
        number = self.request.query_params.get("register", "")
        if not number:
            return None
        if not number.isdecimal() or int(number) not in catalogue.BY_NUMBER:
            raise ValidationError({"register": [_("Choose a register from 1 to 41.")]})
        return int(number)

    def _row_values(self, register_no: int, data: dict[str, Any], row: Row | None = None) -> dict[str, Any]:
        """The row's values through the column-built form: references checked against the user's scope."""
        columns = catalogue.columns(register_no)
        form = ColumnsForm(
            data=api_form_data(columns, data),
            columns=columns,
            user=self.request.user,
            engagement=self.engagement,
            values=row.data if row else None,
            with_remarks=False,
        )
        unknown = sorted(set(data) - {c.key for c in columns})
        if unknown:
            raise ValidationError({"data": {k: [_("No such column in this register.")] for k in unknown}})
        if not form.is_valid():
            raise ValidationError({"data": {k: [str(m) for m in v] for k, v in form.errors.items()}})
        return form.service_data()


def _write(action_: Any) -> Any:
    """Run a service; an invalid row becomes a 400 naming every field."""
    try:
        return action_()
    except services.RowInvalid as exc:
        raise ValidationError({"data": exc.errors}) from None


FILTERS = [
    OpenApiParameter("register", OpenApiTypes.INT, description="表N, 1–41"),
    OpenApiParameter("phase", OpenApiTypes.STR, enum=Phase.values),
    OpenApiParameter("site", OpenApiTypes.INT, description="A site id: the site and its subtree"),
    OpenApiParameter("state", OpenApiTypes.STR, enum=FormState.values, description="The form's state"),
]


@extend_schema_view(list=extend_schema(parameters=FILTERS))
class FormViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _RegistersScoped):
    """Register forms at your sites: one register (表N) filled for one site, with the official header."""

    serializer_class = FormSerializer

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Form.objects.none()
        params = self.request.query_params
        if self.action != "list":
            qs = selectors.form_list(
                user=self.request.user, engagement=self.engagement, include_superseded=True
            )
        else:
            state = params.get("state", "")
            qs = selectors.form_list(
                user=self.request.user,
                engagement=self.engagement,
                register_no=self._register_param(),
                site=self._site_param(),
                state=state if state in FormState.values else "",
                phase=params.get("phase", "") if params.get("phase", "") in Phase.values else "",
            )
        return qs.prefetch_related("signatures__person")

    def _form(self, capability: str = perms.VIEW_REGISTERS) -> Form:
        return selectors.form_get(
            user=self.request.user,
            engagement=self.engagement,
            form_id=int(self.kwargs["pk"]),
            capability=capability,
        )

    def _answer(self, form: Form, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.form_get(user=self.request.user, engagement=self.engagement, form_id=form.pk)
        return Response(FormSerializer(fresh).data, status=code)

    @extend_schema(request=FormCreateSerializer, responses={201: FormSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = FormCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        site = org_selectors.site_get(
            user=request.user, engagement=self.engagement, site_id=d["site"], capability=perms.FILL_REGISTERS
        )
        form = _write(
            lambda: seeding.form_open(
                actor=request.user,
                engagement=self.engagement,
                site=site,
                register_no=d["register_no"],
                form_date=d["form_date"],
                form_no=d.get("form_no", ""),
                header=d.get("header") or {},
            )
        )
        return self._answer(form, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=FormSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str, code: str) -> Response:
        """草稿 → 已提交."""
        form = self._form(perms.FILL_REGISTERS)
        services.form_submit(actor=request.user, form=form)
        return self._answer(form)

    @extend_schema(request=None, responses=FormSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request: Request, pk: str, code: str) -> Response:
        """A footer signature in the role you hold at the form's site."""
        form = self._form()
        services.form_sign(actor=request.user, form=form)
        return self._answer(form)

    @extend_schema(request=None, responses=FormSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str, code: str) -> Response:
        """已签字 → 已归档, final: by the site's 现场技术岗位 or 技术组 (the service refuses anyone else)."""
        form = self._form()
        services.form_archive(actor=request.user, form=form)
        return self._answer(form)

    @extend_schema(request=ReasonSerializer, responses={201: FormSerializer})
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk: str, code: str) -> Response:
        """A new draft version of a signed form; the signed one stays."""
        form = self._form(perms.FILL_REGISTERS)
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        new = services.form_correct(actor=request.user, form=form, reason=body.validated_data["reason"])
        return self._answer(new, status.HTTP_201_CREATED)


ROW_FILTERS = [
    *FILTERS,
    OpenApiParameter("form", OpenApiTypes.INT, description="A form id"),
    OpenApiParameter("q", OpenApiTypes.STR, description="Full-text search over the values and 备注"),
    OpenApiParameter("after", OpenApiTypes.STR, description="Cursor: the page after this one (from `next`)"),
    OpenApiParameter("before", OpenApiTypes.STR, description="Cursor: the page before (from `previous`)"),
    OpenApiParameter("last", OpenApiTypes.BOOL, description="1 for the last page"),
    OpenApiParameter("limit", OpenApiTypes.INT, description="Rows per page, at most 500 (50 by default)"),
]
MAX_PAGE = 500


@extend_schema_view(
    list=extend_schema(
        parameters=ROW_FILTERS,
        responses=RowSerializer(many=True),
        description="Current rows at your sites. With `register`, any enum or 是/否 column key filters too "
        "(e.g. `?register=8&purpose=改密前备份`).",
    )
)
class RowViewSet(mixins.RetrieveModelMixin, _RegistersScoped):
    """Register rows at your sites. A signed row is frozen: correct it as a new version with a reason."""

    serializer_class = RowSerializer
    pagination_class = RowCursorSchema  # list() pages by cursor itself; the schema takes the shape from here

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Row.objects.none()
        return Row.objects.none()  # rows are read through _row (any version) or list (current ones)

    def get_object(self) -> Row:
        return self._row()

    def _row(self, capability: str = perms.VIEW_REGISTERS) -> Row:
        return selectors.row_get(
            user=self.request.user,
            engagement=self.engagement,
            row_id=int(self.kwargs["pk"]),
            capability=capability,
        )

    def _answer(self, row: Row, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.row_get(user=self.request.user, engagement=self.engagement, row_id=row.pk)
        return Response(RowSerializer(fresh).data, status=code)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = request.query_params
        register_no = self._register_param()
        form_id = params.get("form", "")
        form = (
            selectors.form_get(user=request.user, engagement=self.engagement, form_id=int(form_id))
            if form_id.isdecimal()
            else None
        )
        state, phase = params.get("state", ""), params.get("phase", "")
        filters = selectors.RowFilters(
            register_no=register_no,
            phase=phase if phase in Phase.values else "",
            site=self._site_param(),
            form=form,
            state=state if state in FormState.values else "",
            q=params.get("q", "").strip(),
            columns=selectors.column_filters(register_no, params) if register_no else {},
        )
        rows = selectors.row_list(user=request.user, engagement=self.engagement, filters=filters)
        cursor = selectors.Cursor.parse(
            after=params.get("after", ""), before=params.get("before", ""), last=params.get("last", "")
        )
        limit = params.get("limit", "")
        size = min(int(limit), MAX_PAGE) if limit.isdecimal() and int(limit) > 0 else selectors.PAGE_SIZE
        page = selectors.row_page(rows=rows.prefetch_related("signatures__person"), cursor=cursor, size=size)
        return Response(
            {
                "next": self._link(after=page.next_after) if page.next_after else None,
                "previous": self._link(before=page.prev_before) if page.prev_before else None,
                "results": RowSerializer(page.rows, many=True).data,
            }
        )

    def _link(self, **cursor: str | None) -> str:
        params = self.request.query_params.copy()
        for key in ("after", "before", "last"):
            params.pop(key, None)
        params.update({key: value for key, value in cursor.items() if value})
        return self.request.build_absolute_uri(f"{self.request.path}?{params.urlencode()}")

    @extend_schema(request=RowCreateSerializer, responses={201: RowSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = RowCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        form = selectors.form_get(
            user=request.user, engagement=self.engagement, form_id=d["form"], capability=perms.FILL_REGISTERS
        )
        values = self._row_values(form.register_no, d["data"])
        row = _write(
            lambda: services.row_add(actor=request.user, form=form, data=values, remarks=d["remarks"])
        )
        return self._answer(row, status.HTTP_201_CREATED)

    @extend_schema(request=RowWriteSerializer, responses=RowSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change an unsigned row of an open form (all its values are given again)."""
        row = self._row(perms.FILL_REGISTERS)
        body = RowWriteSerializer(data={"remarks": row.remarks, **request.data})
        body.is_valid(raise_exception=True)
        values = self._row_values(row.form.register_no, body.validated_data["data"], row)
        _write(
            lambda: services.row_update(
                actor=request.user, row=row, data=values, remarks=body.validated_data["remarks"]
            )
        )
        return self._answer(row)

    @extend_schema(request=RowSignSerializer, responses={201: RowSerializer})
    @action(detail=True, methods=["post"])
    def sign(self, request: Request, pk: str, code: str) -> Response:
        """Executor or supervisor signature on a row of a ★ register (第八条): two different people."""
        row = self._row()
        body = RowSignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.row_sign(actor=request.user, row=row, kind=body.validated_data["kind"])
        return self._answer(row, status.HTTP_201_CREATED)

    @extend_schema(request=RowCorrectSerializer, responses={201: RowSerializer})
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk: str, code: str) -> Response:
        """A new version of a signed row with a reason; the signed one stays with its signatures."""
        row = self._row(perms.FILL_REGISTERS)
        body = RowCorrectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        values = self._row_values(row.form.register_no, d["data"], row)
        new = _write(
            lambda: services.row_correct(
                actor=request.user, row=row, data=values, reason=d["reason"], remarks=d["remarks"]
            )
        )
        return self._answer(new, status.HTTP_201_CREATED)
