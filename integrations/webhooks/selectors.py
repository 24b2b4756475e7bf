"""Reads of webhooks a person or a token can reach; always from the company."""

from django.db.models import QuerySet

from companies.models import Company
from integrations.webhooks.models import WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list(*, company: Company) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.for_company(company).order_by("-created_at", "-id")


def webhook_endpoint_get(*, company: Company, endpoint_id: int) -> WebhookEndpoint:
    """WebhookEndpoint.DoesNotExist for another company's endpoint, as for a missing one."""
    return webhook_endpoint_list(company=company).get(pk=endpoint_id)


def webhook_delivery_list(*, company: Company | None, endpoint_id: int | None = None) -> QuerySet[WebhookDelivery]:
    """None as company: no rows (the schema generator's placeholder)."""
    if company is None:
        return WebhookDelivery.objects.none()
    deliveries = WebhookDelivery.objects.for_company(company).select_related("endpoint")
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    return deliveries.order_by("-created_at", "-id")
