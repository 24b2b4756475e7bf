"""The aggregates API (issue 13): the dashboards' figures for BI, per day or week, per operator and per checklist
item, over the calls the same filters as the calls list pick (calls.filters.CallFilter). Every figure comes from
analytics.selectors, the selectors the analysts' dashboard uses, so both always agree."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.selectors import (
    INTERVALS,
    analytics_calls,
    calls_operator_aggregates,
    calls_period_aggregates,
    checklist_item_compliance,
)
from calls.filters import CallFilter
from calls.models import Call
from companies.tenancy import CompanyMixin
from dialix.api_errors import error_responses

AGGREGATE_ERRORS = error_responses(400, 401, 403)


@extend_schema_serializer(component_name="SentimentMix")
class SentimentMixSerializer(serializers.Serializer):
    """Analysed calls by the customer's sentiment."""

    negative = serializers.IntegerField()
    neutral = serializers.IntegerField()
    positive = serializers.IntegerField()


@extend_schema_serializer(component_name="OutcomeMix")
class OutcomeMixSerializer(serializers.Serializer):
    """Analysed calls by outcome."""

    sale = serializers.IntegerField()
    agreed = serializers.IntegerField()
    callback = serializers.IntegerField()
    refused = serializers.IntegerField()
    not_resolved = serializers.IntegerField()
    information = serializers.IntegerField()
    other = serializers.IntegerField()


class CallFiguresSerializer(serializers.Serializer):
    calls = serializers.IntegerField(help_text="Calls in the group.")
    answered = serializers.IntegerField(help_text="Calls somebody answered (not skipped).")
    scored = serializers.IntegerField(
        help_text="Calls with a score (low-confidence transcripts have none and are left out of the score figures)."
    )
    mean_score = serializers.FloatField(allow_null=True, help_text="Mean score of the scored calls, 0..100.")
    auto_fail_rate = serializers.FloatField(
        allow_null=True, help_text="Share of the scored calls that failed a critical item, 0..1."
    )
    talk_ratio = serializers.FloatField(allow_null=True, help_text="Mean operator share of all talk, 0..1.")
    silence_share = serializers.FloatField(allow_null=True, help_text="Mean share of the call nobody speaks, 0..1.")
    sentiment = SentimentMixSerializer()
    outcome = OutcomeMixSerializer()


@extend_schema_serializer(component_name="PeriodAggregate")
class PeriodAggregateSerializer(CallFiguresSerializer):
    period_start = serializers.DateField(
        help_text="The day (or the Monday of the week) in the company's time zone (`time_zone` of its settings)."
    )


@extend_schema_serializer(component_name="OperatorAggregate")
class OperatorAggregateSerializer(CallFiguresSerializer):
    operator_id = serializers.IntegerField(allow_null=True, help_text="None: calls matched to no operator.")
    operator_name = serializers.CharField(allow_null=True)


@extend_schema_serializer(component_name="ItemCompliance")
class ItemComplianceSerializer(serializers.Serializer):
    item_id = serializers.IntegerField(help_text="The checklist version's item.")
    checklist_id = serializers.IntegerField()
    checklist_name = serializers.CharField()
    version = serializers.IntegerField(help_text="The checklist's version number.")
    section = serializers.CharField()
    criterion = serializers.CharField()
    is_critical = serializers.BooleanField()
    met = serializers.IntegerField()
    not_met = serializers.IntegerField()
    na = serializers.IntegerField(help_text="Not applicable.")
    needs_review = serializers.IntegerField(help_text="The evidence could not be verified.")
    compliance = serializers.FloatField(allow_null=True, help_text="met / (met + not met), 0..1.")


INTERVAL_PARAMETER = OpenApiParameter(
    "interval", str, enum=list(INTERVALS), description="`day` (default) or `week` (weeks start on Monday)."
)


class AggregatesApi(CompanyMixin, GenericAPIView):
    """Base of the aggregates: the calls the CallFilter parameters pick, in the caller's company; one list, no
    paging (a group per row)."""

    filterset_class = CallFilter
    pagination_class = None

    def get_queryset(self) -> QuerySet[Call]:
        if getattr(self, "swagger_fake_view", False):  # the schema's look at the view: no company
            return Call._default_manager.none()
        return analytics_calls(company=self.company)

    def filtered_calls(self) -> QuerySet[Call]:
        return self.filter_queryset(self.get_queryset())


class PeriodAggregateListApi(AggregatesApi):
    """Per day (or `interval=week`) in the company's time zone, oldest first: calls, answered, mean score (scored
    calls only), auto-fail rate, the customers' sentiment and the outcomes, mean talk ratio and silence share. Days
    without calls are left out. Filter with the calls list's parameters, e.g. `started_after` / `started_before`."""

    class InputSerializer(serializers.Serializer):
        interval = serializers.ChoiceField(choices=INTERVALS, default="day")

    @extend_schema(
        parameters=[INTERVAL_PARAMETER],
        responses={200: PeriodAggregateSerializer(many=True), **AGGREGATE_ERRORS},
        operation_id="aggregates_periods",
    )
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data={"interval": request.query_params.get("interval", "day")})
        params.is_valid(raise_exception=True)
        rows = calls_period_aggregates(
            company=self.company, calls=self.filtered_calls(), interval=params.validated_data["interval"]
        )
        return Response(PeriodAggregateSerializer(rows, many=True).data)


class OperatorAggregateListApi(AggregatesApi):
    """The same figures per operator, by name; calls matched to no operator come last as `operator_id: null`."""

    @extend_schema(
        responses={200: OperatorAggregateSerializer(many=True), **AGGREGATE_ERRORS},
        operation_id="aggregates_operators",
    )
    def get(self, request: Request) -> Response:
        rows = calls_operator_aggregates(company=self.company, calls=self.filtered_calls())
        return Response(OperatorAggregateSerializer(rows, many=True).data)


class ItemComplianceListApi(AggregatesApi):
    """Checklist item compliance: per item of each checklist version the calls were scored with, how many calls
    met it, did not, had it not applicable or need review (a supervisor's correction counts, not the machine's)."""

    @extend_schema(
        responses={200: ItemComplianceSerializer(many=True), **AGGREGATE_ERRORS}, operation_id="aggregates_items"
    )
    def get(self, request: Request) -> Response:
        rows = checklist_item_compliance(company=self.company, calls=self.filtered_calls())
        return Response(ItemComplianceSerializer(rows, many=True).data)
