from django.urls import path

from integrations.webhooks.api import (
    WebhookDeliveryListApi,
    WebhookDeliveryReplayApi,
    WebhookEndpointDetailApi,
    WebhookEndpointListApi,
)

app_name = "webhooks"
urlpatterns = [
    path("webhooks/", WebhookEndpointListApi.as_view(), name="api-list"),
    path("webhooks/<int:pk>/", WebhookEndpointDetailApi.as_view(), name="api-detail"),
    path("webhooks/<int:pk>/deliveries/", WebhookDeliveryListApi.as_view(), name="api-deliveries"),
    path("webhooks/deliveries/<int:pk>/replay/", WebhookDeliveryReplayApi.as_view(), name="api-replay"),
]
