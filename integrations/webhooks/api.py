"""Webhook endpoints and their delivery log in the API: /api/v1/webhooks/."""

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.api_auth import TokenPrincipal
from companies.api_permissions import CanWrite
from companies.tenancy import CompanyMixin
from integrations.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEventType
from integrations.webhooks.selectors import webhook_delivery_list, webhook_endpoint_get, webhook_endpoint_list
from integrations.webhooks.services import (
    webhook_delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
)


class WebhookEndpointOutputSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEventType.choices))

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "is_active",
            "created_at",
            "last_success_at",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
        ]


class WebhookEndpointCreatedSerializer(WebhookEndpointOutputSerializer):
    secret = serializers.CharField(help_text="The signing secret (whsec_...): shown only in this answer.")

    class Meta(WebhookEndpointOutputSerializer.Meta):
        fields = [*WebhookEndpointOutputSerializer.Meta.fields, "secret"]


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEventType.choices), min_length=1)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    is_active = serializers.BooleanField(required=False, default=True)


class WebhookEndpointListApi(CompanyMixin, ListAPIView):
    permission_classes = [*ListAPIView.permission_classes, CanWrite]
    serializer_class = WebhookEndpointOutputSerializer

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if getattr(self, "swagger_fake_view", False):  # the schema's look at the view: no company
            return WebhookEndpoint._default_manager.none()
        return webhook_endpoint_list(company=self.company)

    @extend_schema(request=WebhookEndpointInputSerializer, responses={201: WebhookEndpointCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = WebhookEndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        by = None if isinstance(request.user, TokenPrincipal) else request.user
        endpoint, secret = webhook_endpoint_create(company=self.company, by=by, **data.validated_data)
        endpoint.secret = secret
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(CompanyMixin, APIView):
    permission_classes = [*APIView.permission_classes, CanWrite]

    def _get(self, pk: int) -> WebhookEndpoint:
        try:
            return webhook_endpoint_get(company=self.company, endpoint_id=pk)
        except WebhookEndpoint.DoesNotExist as exc:
            raise Http404 from exc

    @extend_schema(responses=WebhookEndpointOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookEndpointOutputSerializer(self._get(pk)).data)

    @extend_schema(request=WebhookEndpointInputSerializer(partial=True), responses=WebhookEndpointOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        endpoint = self._get(pk)
        data = WebhookEndpointInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_update(company=self.company, endpoint_id=endpoint.pk, **data.validated_data)
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        webhook_endpoint_delete(company=self.company, endpoint_id=self._get(pk).pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryOutputSerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]


class WebhookDeliveryListApi(CompanyMixin, ListAPIView):
    """The endpoint's delivery log, newest first."""

    serializer_class = WebhookDeliveryOutputSerializer

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no URL arguments
            return webhook_delivery_list(company=None).none()
        try:
            endpoint = webhook_endpoint_get(company=self.company, endpoint_id=self.kwargs["pk"])
        except WebhookEndpoint.DoesNotExist as exc:
            raise Http404 from exc
        return webhook_delivery_list(company=self.company, endpoint_id=endpoint.pk)


class WebhookDeliveryReplayApi(CompanyMixin, APIView):
    """Sends the event again, same id and body, with a fresh day of retries."""

    permission_classes = [*APIView.permission_classes, CanWrite]

    @extend_schema(request=None, responses={202: WebhookDeliveryOutputSerializer})
    def post(self, request: Request, pk: int) -> Response:
        try:
            delivery = webhook_delivery_replay(company=self.company, delivery_id=pk)
        except WebhookDelivery.DoesNotExist as exc:
            raise Http404 from exc
        return Response(WebhookDeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
