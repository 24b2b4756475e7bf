from django.urls import path

from calls.views import CallRecordingView

app_name = "call_pages"
urlpatterns = [path("<int:pk>/recording/", CallRecordingView.as_view(), name="recording")]
