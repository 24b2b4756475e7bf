from django.urls import path

from checklists.api import ChecklistDetailApi, ChecklistListApi, ChecklistPublishApi

app_name = "checklists"
urlpatterns = [
    path("checklists/", ChecklistListApi.as_view(), name="api-list"),
    path("checklists/<int:pk>/", ChecklistDetailApi.as_view(), name="api-detail"),
    path("checklists/<int:pk>/publish/", ChecklistPublishApi.as_view(), name="api-publish"),
]
