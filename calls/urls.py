from django.urls import path

from calls.api import (
    CallAnalysisApi,
    CallDetailApi,
    CallItemCorrectApi,
    CallListApi,
    CallReanalyseApi,
    CallRecordingApi,
    CallRetranscribeApi,
    CallReviewApi,
    CallScorecardListApi,
    CallTranscriptApi,
    CallUtteranceListApi,
    PbxPushApi,
    PbxWebhookApi,
)

app_name = "calls"
urlpatterns = [
    path("calls/", CallListApi.as_view(), name="api-list"),
    path("calls/<int:pk>/", CallDetailApi.as_view(), name="api-detail"),
    path("calls/<int:pk>/transcript/", CallTranscriptApi.as_view(), name="api-transcript"),
    path("calls/<int:pk>/utterances/", CallUtteranceListApi.as_view(), name="api-utterances"),
    path("calls/<int:pk>/analysis/", CallAnalysisApi.as_view(), name="api-analysis"),
    path("calls/<int:pk>/scorecards/", CallScorecardListApi.as_view(), name="api-scorecards"),
    path("calls/<int:pk>/recording/", CallRecordingApi.as_view(), name="api-recording"),
    path("calls/<int:pk>/retranscribe/", CallRetranscribeApi.as_view(), name="api-retranscribe"),
    path("calls/<int:pk>/reanalyse/", CallReanalyseApi.as_view(), name="api-reanalyse"),
    path("calls/<int:pk>/review/", CallReviewApi.as_view(), name="api-review"),
    path("calls/<int:pk>/items/<int:result_id>/correct/", CallItemCorrectApi.as_view(), name="api-item-correct"),
    # The secret in a header (Bearer or a signature); the URL form only for PBXs that cannot send headers.
    path("pbx/webhook/", PbxPushApi.as_view(), name="pbx-push"),
    path("pbx/webhook/<str:secret>/", PbxWebhookApi.as_view(), name="pbx-webhook"),
]
