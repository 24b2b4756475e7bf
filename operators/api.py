"""The operators API: list, detail, create, update, deactivate (writes: companies.api_permissions.CanWrite)."""

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.api_permissions import CanWrite
from companies.tenancy import CompanyMixin
from dialix.api_errors import error_responses
from dialix.api_pagination import NumberedPagination
from operators.models import Operator
from operators.selectors import operator_list
from operators.services import operator_create, operator_deactivate, operator_update


class OperatorOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Operator
        fields = ["id", "name", "pbx_extension", "email", "is_active"]


class OperatorInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    pbx_extension = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class OperatorListApi(CompanyMixin, ListAPIView):
    """GET: the company's operators, by name. POST: add one (an extension is unique in the company)."""

    serializer_class = OperatorOutputSerializer
    filterset_fields = ["is_active", "pbx_extension"]
    pagination_class = NumberedPagination
    permission_classes = [*ListAPIView.permission_classes, CanWrite]

    InputSerializer = OperatorInputSerializer

    def get_queryset(self) -> QuerySet[Operator]:
        if getattr(self, "swagger_fake_view", False):  # the schema's look at the view: no company
            return Operator._default_manager.none()
        return operator_list(company=self.company)

    @extend_schema(responses={200: OperatorOutputSerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=OperatorInputSerializer, responses={201: OperatorOutputSerializer, **error_responses(400, 401, 403)}
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        operator = operator_create(company=self.company, **serializer.validated_data)
        return Response(OperatorOutputSerializer(operator).data, status=status.HTTP_201_CREATED)


class OperatorCompanyApi(CompanyMixin, APIView):
    permission_classes = [*APIView.permission_classes, CanWrite]

    def get_operator(self, pk: int) -> Operator:
        try:
            return operator_list(company=self.company).get(pk=pk)
        except Operator.DoesNotExist as exc:
            raise Http404 from exc


class OperatorDetailApi(OperatorCompanyApi):
    """GET: one operator. PATCH: change any of its fields (`is_active: true` reactivates)."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        pbx_extension = serializers.CharField(max_length=64, required=False, allow_blank=True)
        email = serializers.EmailField(required=False, allow_blank=True)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(responses={200: OperatorOutputSerializer, **error_responses(401, 403, 404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(OperatorOutputSerializer(self.get_operator(pk)).data)

    @extend_schema(
        request=InputSerializer, responses={200: OperatorOutputSerializer, **error_responses(400, 401, 403, 404)}
    )
    def patch(self, request: Request, pk: int) -> Response:
        operator = self.get_operator(pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(OperatorOutputSerializer(operator_update(operator=operator, **serializer.validated_data)).data)


class OperatorDeactivateApi(OperatorCompanyApi):
    """The operator leaves: kept with their calls, no longer active. 200 with the operator."""

    @extend_schema(request=None, responses={200: OperatorOutputSerializer, **error_responses(401, 403, 404)})
    def post(self, request: Request, pk: int) -> Response:
        return Response(OperatorOutputSerializer(operator_deactivate(operator=self.get_operator(pk))).data)
