from django.urls import path

from operators.api import OperatorDeactivateApi, OperatorDetailApi, OperatorListApi

app_name = "operators"
urlpatterns = [
    path("operators/", OperatorListApi.as_view(), name="api-list"),
    path("operators/<int:pk>/", OperatorDetailApi.as_view(), name="api-detail"),
    path("operators/<int:pk>/deactivate/", OperatorDeactivateApi.as_view(), name="api-deactivate"),
]
