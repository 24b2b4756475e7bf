from django.urls import path

from analytics.api import (
    HeatmapAggregateApi,
    ItemComplianceListApi,
    ItemsTrendAggregateApi,
    LeaderboardAggregateApi,
    MixAggregateApi,
    OperatorAggregateListApi,
    OperatorDetailAggregateApi,
    OverviewAggregateApi,
    PeriodAggregateListApi,
    SeriesAggregateApi,
    TopicsAggregateApi,
)
from analytics.api_crm import ConversionAggregateApi
from analytics.api_usage import UsageListApi

app_name = "analytics"
urlpatterns = [
    path("aggregates/daily/", PeriodAggregateListApi.as_view(), name="api-aggregates-daily"),
    path("aggregates/operators/", OperatorAggregateListApi.as_view(), name="api-aggregates-operators"),
    path("aggregates/items/", ItemComplianceListApi.as_view(), name="api-aggregates-items"),
    # The analysts' dashboard (issue 15): its charts load these with the analyst's session.
    path("aggregates/overview/", OverviewAggregateApi.as_view(), name="api-aggregates-overview"),
    path("aggregates/series/", SeriesAggregateApi.as_view(), name="api-aggregates-series"),
    path("aggregates/mix/", MixAggregateApi.as_view(), name="api-aggregates-mix"),
    path("aggregates/topics/", TopicsAggregateApi.as_view(), name="api-aggregates-topics"),
    path("aggregates/heatmap/", HeatmapAggregateApi.as_view(), name="api-aggregates-heatmap"),
    path("aggregates/leaderboard/", LeaderboardAggregateApi.as_view(), name="api-aggregates-leaderboard"),
    path(
        "aggregates/operators/<int:operator_id>/",
        OperatorDetailAggregateApi.as_view(),
        name="api-aggregates-operator",
    ),
    path("aggregates/items-trend/", ItemsTrendAggregateApi.as_view(), name="api-aggregates-items-trend"),
    # QA vs conversion (issue 14)
    path("aggregates/conversion/", ConversionAggregateApi.as_view(), name="api-aggregates-conversion"),
    # Usage and cost per month (issue 16)
    path("usage/", UsageListApi.as_view(), name="api-usage"),
]
