"""The checklists API: list, detail, create, update (sections and items in one request) and publish."""

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from checklists.models import CALL_DIRECTIONS, Checklist, ItemSpeaker
from checklists.selectors import checklist_api_list
from checklists.services import checklist_publish, checklist_save
from companies.api_auth import TokenPrincipal
from companies.api_permissions import CanWrite
from companies.tenancy import CompanyMixin
from dialix.api_errors import error_responses
from dialix.api_pagination import NumberedPagination


class ChecklistItemOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    criterion = serializers.CharField()
    weight = serializers.IntegerField()
    is_critical = serializers.BooleanField()
    allow_na = serializers.BooleanField()
    examples = serializers.ListField(child=serializers.CharField())
    speaker = serializers.ChoiceField(choices=ItemSpeaker.choices)
    order = serializers.IntegerField()


class ChecklistSectionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    order = serializers.IntegerField()
    items = ChecklistItemOutputSerializer(many=True, source="items.all")


class ChecklistOutputSerializer(serializers.ModelSerializer):
    directions = serializers.ListField(child=serializers.ChoiceField(choices=CALL_DIRECTIONS))
    operator_ids = serializers.SerializerMethodField()
    latest_version = serializers.IntegerField(allow_null=True, help_text="The last published version (null: none).")
    sections = ChecklistSectionOutputSerializer(many=True, source="sections.all")

    class Meta:
        model = Checklist
        fields = ["id", "name", "description", "is_active", "directions", "operator_ids", "latest_version", "sections"]

    def get_operator_ids(self, checklist: Checklist) -> list[int]:
        return [operator.pk for operator in checklist.operators.all()]


class ChecklistItemInputSerializer(serializers.Serializer):
    criterion = serializers.CharField(max_length=2000, help_text="What the operator must do, in uz, ru or en.")
    weight = serializers.IntegerField(min_value=1, max_value=100, default=1)
    is_critical = serializers.BooleanField(default=False, help_text="Not met fails the whole call (auto-fail).")
    allow_na = serializers.BooleanField(default=False)
    examples = serializers.ListField(
        child=serializers.RegexField(r"^[^\r\n]+$", max_length=300), max_length=50, default=list
    )
    speaker = serializers.ChoiceField(choices=ItemSpeaker.choices, default=ItemSpeaker.OPERATOR)


class ChecklistSectionInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    items = ChecklistItemInputSerializer(many=True, max_length=200)


class ChecklistInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    is_active = serializers.BooleanField(required=False)
    directions = serializers.ListField(
        child=serializers.ChoiceField(choices=CALL_DIRECTIONS), required=False, max_length=2, help_text="Empty: all."
    )
    operator_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=1000, help_text="Empty: every operator."
    )
    sections = ChecklistSectionInputSerializer(
        many=True, required=False, max_length=50, help_text="Replaces the draft's sections and items."
    )

    def validate_directions(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each direction at most once.")
        return value


class ChecklistUpdateInputSerializer(ChecklistInputSerializer):
    name = serializers.CharField(max_length=200, required=False)


def _save(company, checklist, values: dict) -> Checklist:
    values = dict(values)
    operator_ids = values.pop("operator_ids", None)
    sections = values.pop("sections", None)
    saved = checklist_save(
        company=company, checklist=checklist, fields=values, operator_ids=operator_ids, sections=sections
    )
    return checklist_api_list(company=company).get(pk=saved.pk)


class ChecklistListApi(CompanyMixin, ListAPIView):
    """GET: the company's checklists with sections and items (the draft) and their latest published version.
    POST: create one; it scores calls once published."""

    serializer_class = ChecklistOutputSerializer
    pagination_class = NumberedPagination
    filter_backends: list = []
    permission_classes = [*ListAPIView.permission_classes, CanWrite]

    def get_queryset(self) -> QuerySet[Checklist]:
        if getattr(self, "swagger_fake_view", False):  # the schema's look at the view: no company
            return Checklist._default_manager.none()
        return checklist_api_list(company=self.company)

    @extend_schema(responses={200: ChecklistOutputSerializer(many=True), **error_responses(401, 403, 404)})
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ChecklistInputSerializer,
        responses={201: ChecklistOutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = ChecklistInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        checklist = _save(self.company, None, serializer.validated_data)
        return Response(ChecklistOutputSerializer(checklist).data, status=status.HTTP_201_CREATED)


class ChecklistCompanyApi(CompanyMixin, APIView):
    permission_classes = [*APIView.permission_classes, CanWrite]

    def get_checklist(self, pk: int) -> Checklist:
        try:
            return checklist_api_list(company=self.company).get(pk=pk)
        except Checklist.DoesNotExist as exc:
            raise Http404 from exc


class ChecklistDetailApi(ChecklistCompanyApi):
    """GET: one checklist. PATCH: change its fields; `sections` replaces the draft's sections and items (published
    versions never change: publish to score calls with the new draft)."""

    @extend_schema(responses={200: ChecklistOutputSerializer, **error_responses(401, 403, 404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ChecklistOutputSerializer(self.get_checklist(pk)).data)

    @extend_schema(
        request=ChecklistUpdateInputSerializer,
        responses={200: ChecklistOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        checklist = self.get_checklist(pk)
        serializer = ChecklistUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(ChecklistOutputSerializer(_save(self.company, checklist, serializer.validated_data)).data)


class ChecklistPublishApi(ChecklistCompanyApi):
    """Freeze the draft as a new version: new calls are scored with it, old scores keep theirs. 201 with the new
    version; 200 with `created: false` when the draft equals the latest version; 409 for a checklist without items."""

    @extend_schema_serializer(component_name="ChecklistPublished")
    class OutputSerializer(serializers.Serializer):
        created = serializers.BooleanField()
        version = serializers.IntegerField(allow_null=True, help_text="The latest version's number.")
        checklist = ChecklistOutputSerializer()

    @extend_schema(
        request=None,
        responses={201: OutputSerializer, 200: OutputSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        checklist = self.get_checklist(pk)
        by = (
            getattr(request.user.token, "created_by", None)
            if isinstance(request.user, TokenPrincipal)
            else request.user
        )
        version = checklist_publish(checklist=checklist, by=by)
        checklist = self.get_checklist(pk)
        body = {"created": version is not None, "version": checklist.latest_version, "checklist": checklist}
        return Response(self.OutputSerializer(body).data, status=201 if version is not None else 200)
