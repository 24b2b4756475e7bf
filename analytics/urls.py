from django.urls import path

from analytics.views import (
    ConversionView,
    ExportDownloadView,
    ExportJobCreateView,
    ExportJobStatusView,
    ExportView,
    ItemsView,
    OperatorsView,
    OperatorView,
    OverviewView,
    PrintView,
)

app_name = "dashboard"
urlpatterns = [
    path("", OverviewView.as_view(), name="home"),
    path("operators/", OperatorsView.as_view(), name="operators"),
    path("operators/<int:operator_id>/", OperatorView.as_view(), name="operator"),
    path("items/", ItemsView.as_view(), name="items"),
    path("conversion/", ConversionView.as_view(), name="conversion"),
    path("print/", PrintView.as_view(), name="print"),
    path("export/", ExportView.as_view(), name="export"),
    path("exports/", ExportJobCreateView.as_view(), name="export-create"),
    path("exports/<int:job_id>/", ExportJobStatusView.as_view(), name="export-job"),
    path("exports/<int:job_id>/download/", ExportDownloadView.as_view(), name="export-download"),
]
