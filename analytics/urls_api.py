from django.urls import path

from analytics.api import ItemComplianceListApi, OperatorAggregateListApi, PeriodAggregateListApi

app_name = "analytics"
urlpatterns = [
    path("aggregates/daily/", PeriodAggregateListApi.as_view(), name="api-aggregates-daily"),
    path("aggregates/operators/", OperatorAggregateListApi.as_view(), name="api-aggregates-operators"),
    path("aggregates/items/", ItemComplianceListApi.as_view(), name="api-aggregates-items"),
]
