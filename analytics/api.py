"""The aggregates API (issue 13): the dashboards' figures for BI, per day or week, per operator and per checklist
item, over the calls the same filters as the calls list pick (calls.filters.CallFilter). Every figure comes from
analytics.selectors, the selectors the analysts' dashboard uses, so both always agree."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.selectors import (
    INTERVALS,
    LEADERBOARD_SORTS,
    OUTCOME_VALUES,
    PERIODS,
    DashboardFilters,
    FilterError,
    analytics_calls,
    calls_operator_aggregates,
    calls_period_aggregates,
    calls_series,
    checklist_item_compliance,
    filters_from_params,
    item_compliance,
    missed_heatmap,
    mix,
    operator_detail,
    operator_leaderboard,
    overview_kpis,
    top_topics,
)
from calls.filters import CallFilter, UtcIsoDateTimeField
from calls.models import Call, Direction
from companies.models import LANGUAGE_CODES
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

    def figures_source(self) -> dict:
        """The selector's source: the rollups (``filters``) when every parameter is one of their dimensions and the
        times are local midnights, else the filtered calls (``calls``). The filters are validated either way."""
        calls = self.filtered_calls()
        filters = rollup_filters(self.request.query_params, self.company.time_zone)
        return {"filters": filters} if filters is not None else {"calls": calls}


ROLLUP_PARAMS = frozenset({"operator", "direction", "language", "outcome", "started_after", "started_before"})


def _local_midnight(text: str, zone: ZoneInfo) -> dt.date | None:
    moment = UtcIsoDateTimeField().to_python(text)
    if moment is None or moment.tzinfo is None:
        return None
    local = moment.astimezone(zone)
    return local.date() if local.time() == dt.time() else None


def rollup_filters(params, time_zone: str) -> DashboardFilters | None:
    """The calls-list parameters as rollup filters, or None when one of them is not a rollup dimension (a score
    range, text said, a state...) or a time is not a local midnight. Run after the CallFilter validated them."""
    given = {key for key in params if key != "interval" and params.get(key) not in (None, "")}
    if given - ROLLUP_PARAMS or any(len(params.getlist(key)) > 1 for key in given):
        return None
    zone = ZoneInfo(time_zone)
    start = end = None
    if "started_after" in given:
        start = _local_midnight(params["started_after"], zone)
        if start is None:
            return None
    if "started_before" in given:
        before = _local_midnight(params["started_before"], zone)
        if before is None:
            return None
        end = before - dt.timedelta(days=1)
    return DashboardFilters(
        start=start,
        end=end,
        operator_ids=(int(params["operator"]),) if "operator" in given else (),
        direction=params.get("direction", ""),
        language=params.get("language", ""),
        outcome=params.get("outcome", ""),
        period="custom",
    )


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
            company=self.company, interval=params.validated_data["interval"], **self.figures_source()
        )
        return Response(PeriodAggregateSerializer(rows, many=True).data)


class OperatorAggregateListApi(AggregatesApi):
    """The same figures per operator, by name; calls matched to no operator come last as `operator_id: null`."""

    @extend_schema(
        responses={200: OperatorAggregateSerializer(many=True), **AGGREGATE_ERRORS},
        operation_id="aggregates_operators",
    )
    def get(self, request: Request) -> Response:
        rows = calls_operator_aggregates(company=self.company, **self.figures_source())
        return Response(OperatorAggregateSerializer(rows, many=True).data)


class ItemComplianceListApi(AggregatesApi):
    """Checklist item compliance: per item of each checklist version the calls were scored with, how many calls
    met it, did not, had it not applicable or need review (a supervisor's correction counts, not the machine's)."""

    @extend_schema(
        responses={200: ItemComplianceSerializer(many=True), **AGGREGATE_ERRORS}, operation_id="aggregates_items"
    )
    def get(self, request: Request) -> Response:
        rows = checklist_item_compliance(company=self.company, **self.figures_source())
        return Response(ItemComplianceSerializer(rows, many=True).data)


# --- the dashboard's figures (issue 15): the same selectors the pages use ------------------------------------------

DASHBOARD_PARAMETERS = [
    OpenApiParameter(
        "period",
        str,
        enum=list(PERIODS),
        description="`today`, the last `7d` / `30d` / `90d` days (today included), this `month`, or `custom` "
        "(with `date_from` and `date_to`); days of the company's time zone. Default `30d`.",
    ),
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="First day of a `custom` period (inclusive)."),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="Last day of a `custom` period (inclusive)."),
    OpenApiParameter("operator", int, many=True, explode=True, description="Operator ids (repeat the parameter)."),
    OpenApiParameter("direction", str, enum=list(Direction.values)),
    OpenApiParameter("language", str, enum=list(LANGUAGE_CODES), description="The spoken language."),
    OpenApiParameter("checklist", int, description="A checklist id: calls scored with it, its items."),
    OpenApiParameter("outcome", str, enum=list(OUTCOME_VALUES), description="The analysed outcome."),
]


@extend_schema_serializer(component_name="DashboardKpis")
class KpisSerializer(serializers.Serializer):
    calls = serializers.IntegerField()
    answered = serializers.IntegerField(help_text="Calls somebody answered (not skipped).")
    analysed = serializers.IntegerField(help_text="Calls analysed (state done).")
    scored = serializers.IntegerField(help_text="Calls with a score.")
    mean_score = serializers.FloatField(allow_null=True, help_text="0..100, scored calls only.")
    auto_fail_rate = serializers.FloatField(allow_null=True, help_text="Share of the scored calls, 0..1.")
    needs_review = serializers.IntegerField(help_text="Calls whose evidence could not all be verified.")
    mean_handle_seconds = serializers.FloatField(allow_null=True, help_text="Mean duration of the answered calls.")


@extend_schema_serializer(component_name="DashboardKpiChanges")
class KpiChangesSerializer(serializers.Serializer):
    calls = serializers.FloatField(allow_null=True, help_text="Relative change vs the previous period.")
    answered = serializers.FloatField(allow_null=True)
    analysed = serializers.FloatField(allow_null=True)
    scored = serializers.FloatField(allow_null=True)
    mean_score = serializers.FloatField(allow_null=True, help_text="Difference in points (not relative).")
    auto_fail_rate = serializers.FloatField(allow_null=True, help_text="Difference (not relative).")
    needs_review = serializers.FloatField(allow_null=True)
    mean_handle_seconds = serializers.FloatField(allow_null=True)


@extend_schema_serializer(component_name="DashboardPeriod")
class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()


@extend_schema_serializer(component_name="DashboardOverview")
class OverviewSerializer(serializers.Serializer):
    current = KpisSerializer()
    previous = KpisSerializer(help_text="The same figures of the previous period of the same length.")
    change = KpiChangesSerializer()
    period = PeriodSerializer()
    previous_period = PeriodSerializer()


@extend_schema_serializer(component_name="DashboardSeriesPoint")
class SeriesPointSerializer(serializers.Serializer):
    start = serializers.CharField(help_text="The day (YYYY-MM-DD) or the local hour (ISO time with offset).")
    calls = serializers.IntegerField()
    answered = serializers.IntegerField()
    scored = serializers.IntegerField()
    mean_score = serializers.FloatField(allow_null=True)
    auto_fail_rate = serializers.FloatField(allow_null=True)


@extend_schema_serializer(component_name="DashboardSeries")
class SeriesSerializer(serializers.Serializer):
    interval = serializers.ChoiceField(choices=["day", "hour"], help_text="`hour` for a one-day period.")
    points = SeriesPointSerializer(many=True, help_text="Every bucket of the period, oldest first.")


@extend_schema_serializer(component_name="DashboardMix")
class MixSerializer(serializers.Serializer):
    sentiment = SentimentMixSerializer()
    outcome = OutcomeMixSerializer()


@extend_schema_serializer(component_name="DashboardTopicCount")
class TopicCountSerializer(serializers.Serializer):
    value = serializers.CharField()
    calls = serializers.IntegerField()


@extend_schema_serializer(component_name="DashboardTopics")
class TopicsSerializer(serializers.Serializer):
    purposes = TopicCountSerializer(many=True, help_text="Most frequent call purposes first.")
    topics = TopicCountSerializer(many=True, help_text="Most frequent topics first (a call counts once per topic).")


@extend_schema_serializer(component_name="DashboardHeatmap")
class HeatmapSerializer(serializers.Serializer):
    cells = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="7 rows (Monday first) of 24 local hours: calls nobody answered.",
    )
    max = serializers.IntegerField()
    total = serializers.IntegerField()


@extend_schema_serializer(component_name="DashboardOperatorRow")
class LeaderboardRowSerializer(serializers.Serializer):
    operator_id = serializers.IntegerField(allow_null=True, help_text="None: calls matched to no operator.")
    operator_name = serializers.CharField(allow_null=True)
    calls = serializers.IntegerField()
    answered = serializers.IntegerField()
    scored = serializers.IntegerField()
    mean_score = serializers.FloatField(allow_null=True)
    auto_fail_rate = serializers.FloatField(allow_null=True)
    mean_handle_seconds = serializers.FloatField(allow_null=True)
    talk_ratio = serializers.FloatField(allow_null=True, help_text="Operator share of all talk, 0..1.")
    silence_share = serializers.FloatField(allow_null=True)
    interruptions = serializers.FloatField(allow_null=True, help_text="Mean per call.")
    speech_rate = serializers.FloatField(allow_null=True, help_text="Operator words per minute.")
    sentiment = SentimentMixSerializer(help_text="Their customers' sentiment.")
    sparkline = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="Mean score per bucket of `starts`."
    )


@extend_schema_serializer(component_name="DashboardLeaderboard")
class LeaderboardSerializer(serializers.Serializer):
    interval = serializers.ChoiceField(choices=["day", "week"])
    starts = serializers.ListField(child=serializers.DateField())
    rows = LeaderboardRowSerializer(many=True)


@extend_schema_serializer(component_name="DashboardItemTrend")
class ItemTrendSerializer(ItemComplianceSerializer):
    trend = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="Compliance per bucket of `starts`."
    )


@extend_schema_serializer(component_name="DashboardItems")
class ItemsTrendSerializer(serializers.Serializer):
    interval = serializers.ChoiceField(choices=["day", "week"])
    starts = serializers.ListField(child=serializers.DateField())
    items = ItemTrendSerializer(many=True, help_text="Worst compliance first.")


@extend_schema_serializer(component_name="DashboardTrendPoint")
class TrendPointSerializer(serializers.Serializer):
    start = serializers.DateField()
    calls = serializers.IntegerField()
    mean_score = serializers.FloatField(allow_null=True)
    auto_fail_rate = serializers.FloatField(allow_null=True)


@extend_schema_serializer(component_name="DashboardOperator")
class OperatorDetailSerializer(serializers.Serializer):
    operator = LeaderboardRowSerializer()
    interval = serializers.ChoiceField(choices=["day", "week"])
    trend = TrendPointSerializer(many=True)
    worst_items = ItemComplianceSerializer(many=True, help_text="Lowest compliance first.")


class DashboardAggregateApi(CompanyMixin, GenericAPIView):
    """Base of the dashboard's figures: the dashboard's filter parameters (not the calls list's), one JSON object."""

    pagination_class = None
    filter_backends: list = []
    output_serializer: type[serializers.Serializer]

    def dashboard_filters(self) -> DashboardFilters:
        try:
            return filters_from_params(company=self.company, params=self.request.query_params)
        except FilterError as exc:
            raise ValidationError(exc.errors) from exc

    def figure(self, filters: DashboardFilters) -> dict:
        raise NotImplementedError

    def get(self, request: Request, *args, **kwargs) -> Response:
        return Response(self.output_serializer(self.figure(self.dashboard_filters())).data)


def _schema(serializer, operation_id: str, extra: list | None = None, errors=AGGREGATE_ERRORS):
    return extend_schema(
        parameters=[*DASHBOARD_PARAMETERS, *(extra or [])],
        responses={200: serializer, **errors},
        operation_id=operation_id,
    )


class OverviewAggregateApi(DashboardAggregateApi):
    """The headline figures of the period, those of the previous period of the same length, and the change."""

    output_serializer = OverviewSerializer

    @_schema(OverviewSerializer, "aggregates_overview")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def figure(self, filters: DashboardFilters) -> dict:
        return overview_kpis(company=self.company, filters=filters)


class SeriesAggregateApi(DashboardAggregateApi):
    """Calls and the mean score per day of the period (per local hour for a one-day period), every bucket present."""

    output_serializer = SeriesSerializer

    @_schema(SeriesSerializer, "aggregates_series")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def figure(self, filters: DashboardFilters) -> dict:
        return calls_series(company=self.company, filters=filters)


class MixAggregateApi(DashboardAggregateApi):
    """The customers' sentiment and the outcomes of the period's calls."""

    output_serializer = MixSerializer

    @_schema(MixSerializer, "aggregates_mix")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def figure(self, filters: DashboardFilters) -> dict:
        return mix(company=self.company, filters=filters)


class TopicsAggregateApi(DashboardAggregateApi):
    """The most frequent purposes and topics of the period's analysed calls."""

    output_serializer = TopicsSerializer

    class InputSerializer(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=50, default=10)

    @_schema(
        TopicsSerializer,
        "aggregates_topics",
        [OpenApiParameter("limit", int, description="How many of each, 1..50 (default 10).")],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def figure(self, filters: DashboardFilters) -> dict:
        params = self.InputSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return top_topics(company=self.company, filters=filters, limit=params.validated_data["limit"])


class HeatmapAggregateApi(DashboardAggregateApi):
    """Calls nobody answered, by local weekday and hour."""

    output_serializer = HeatmapSerializer

    @_schema(HeatmapSerializer, "aggregates_heatmap")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def figure(self, filters: DashboardFilters) -> dict:
        return missed_heatmap(company=self.company, filters=filters)


SORT_CHOICES = [*LEADERBOARD_SORTS, *(f"-{name}" for name in LEADERBOARD_SORTS)]


class LeaderboardAggregateApi(DashboardAggregateApi):
    """Per operator: calls, mean score, auto-fail rate, handle time, talk ratio, silence share, interruptions, speech
    rate and the customers' sentiment, each with a mean-score sparkline."""

    output_serializer = LeaderboardSerializer

    class InputSerializer(serializers.Serializer):
        sort = serializers.ChoiceField(choices=SORT_CHOICES, default="-calls")

    @_schema(
        LeaderboardSerializer,
        "aggregates_leaderboard",
        [OpenApiParameter("sort", str, enum=SORT_CHOICES, description="A figure; `-` first for descending.")],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def figure(self, filters: DashboardFilters) -> dict:
        params = self.InputSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return operator_leaderboard(company=self.company, filters=filters, sort=params.validated_data["sort"])


class OperatorDetailAggregateApi(DashboardAggregateApi):
    """One operator's figures, trend and worst checklist items over the period."""

    output_serializer = OperatorDetailSerializer

    class InputSerializer(serializers.Serializer):
        worst = serializers.IntegerField(min_value=1, max_value=50, default=5)

    @_schema(
        OperatorDetailSerializer,
        "aggregates_operator",
        [OpenApiParameter("worst", int, description="How many worst items, 1..50 (default 5).")],
        errors=error_responses(400, 401, 403, 404),
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def figure(self, filters: DashboardFilters) -> dict:
        params = self.InputSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        detail = operator_detail(
            company=self.company,
            filters=filters,
            operator_id=self.kwargs["operator_id"],
            worst=params.validated_data["worst"],
        )
        if detail is None:
            raise Http404
        return detail


class ItemsTrendAggregateApi(DashboardAggregateApi):
    """Checklist item compliance over the period, worst first, each with its trend per day (per week past 31
    days)."""

    output_serializer = ItemsTrendSerializer

    @_schema(ItemsTrendSerializer, "aggregates_items_trend")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def figure(self, filters: DashboardFilters) -> dict:
        return item_compliance(company=self.company, filters=filters)
