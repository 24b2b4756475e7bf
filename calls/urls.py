from django.urls import path

from calls.api import CallDetailApi, CallListApi, CallTranscriptApi, PbxWebhookApi

app_name = "calls"
urlpatterns = [
    path("calls/", CallListApi.as_view(), name="api-list"),
    path("calls/<int:pk>/", CallDetailApi.as_view(), name="api-detail"),
    path("calls/<int:pk>/transcript/", CallTranscriptApi.as_view(), name="api-transcript"),
    path("pbx/webhook/<str:secret>/", PbxWebhookApi.as_view(), name="pbx-webhook"),
]
