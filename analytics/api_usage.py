"""GET /api/v1/usage/ (issue 16): the company's usage and cost per month, the figures of the console's usage page
(analytics.selectors_usage). For a company's API token, or an owner's session: what the calls cost is the owner's."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import permissions, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.selectors_usage import MAX_MONTHS, usage_months
from companies.api_auth import TokenPrincipal
from companies.models import Role
from companies.tenancy import CompanyMixin, membership_for_user
from dialix.api_errors import error_responses


class TokenOrOwner(permissions.BasePermission):
    message = "Usage and cost are for the company's owner or its API tokens."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.user, TokenPrincipal):
            return True
        membership = membership_for_user(request.user)
        return membership is not None and membership.role == Role.OWNER


@extend_schema_serializer(component_name="UsageEngineMinutes")
class EngineMinutesSerializer(serializers.Serializer):
    engine = serializers.CharField()
    calls = serializers.IntegerField()
    minutes = serializers.FloatField(help_text="Audio minutes transcribed.")
    cost_usd = serializers.DecimalField(
        max_digits=14, decimal_places=4, allow_null=True, help_text="Minutes x the engine's price; null: unknown."
    )


@extend_schema_serializer(component_name="UsageEngineTokens")
class EngineTokensSerializer(serializers.Serializer):
    engine = serializers.CharField()
    analyses = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=14, decimal_places=4)


@extend_schema_serializer(component_name="UsageMonth")
class UsageMonthSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="First day of the month, in the company's time zone.")
    calls_received = serializers.IntegerField(help_text="Calls whose recording was stored this month.")
    audio_minutes_received = serializers.FloatField()
    audio_minutes_transcribed = serializers.FloatField()
    storage_added_bytes = serializers.IntegerField()
    llm_tokens = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=14, decimal_places=4, help_text="Speech-to-text and LLM.")
    transcribed = EngineMinutesSerializer(many=True)
    llm = EngineTokensSerializer(many=True)


class UsageListApi(CompanyMixin, APIView):
    """Usage and cost per month, newest first (`months`, default 12, at most 36), and the storage used now."""

    permission_classes = [*APIView.permission_classes, TokenOrOwner]

    @extend_schema_serializer(component_name="Usage")
    class OutputSerializer(serializers.Serializer):
        storage_bytes = serializers.IntegerField(help_text="Bytes of the recordings stored now.")
        recordings_stored = serializers.IntegerField()
        months = UsageMonthSerializer(many=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("months", OpenApiTypes.INT, description=f"How many months, 1..{MAX_MONTHS} (12).")
        ],
        responses={200: OutputSerializer, **error_responses(400, 401, 403)},
        operation_id="usage_list",
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("months", "12")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_MONTHS:
            raise ValidationError({"months": [f"A whole number from 1 to {MAX_MONTHS}."]})
        usage = usage_months(company=self.company, months=int(raw))
        return Response(self.OutputSerializer(usage).data)
