"""Webhook endpoints, the outbox (one delivery per event and endpoint) and the log of each attempt.

Imported by integrations/models.py, so the models belong to the integrations app."""

from django.conf import settings
from django.db import models

from companies.tenancy import CompanyOwned
from integrations.fields import EncryptedTextField


class WebhookEventType(models.TextChoices):
    CALL_TRANSCRIBED = "call.transcribed", "call.transcribed: the transcript is ready"
    CALL_ANALYSED = "call.analysed", "call.analysed: summary, sentiments and scorecards are ready"
    CALL_FAILED = "call.failed", "call.failed: the pipeline gave up on the call"
    CALL_CORRECTED = "call.corrected", "call.corrected: a supervisor corrected a checklist answer"
    CALL_REVIEWED = "call.reviewed", "call.reviewed: a supervisor marked the call reviewed"


class WebhookEndpoint(CompanyOwned):
    """Where a company wants events sent. The secret signs every delivery; it is shown once, stored encrypted."""

    url = models.URLField(
        max_length=500, help_text="Where events are POSTed: http(s) only; redirects are not followed."
    )
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="Event types sent to this endpoint.")
    secret = EncryptedTextField(editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # Health, written only by delivery: the console shows why an endpoint stopped.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(CompanyOwned):
    """The outbox: one event for one endpoint, written in the transaction of the change that caused it. The body is
    kept as sent, so every retry and replay carries the same bytes and the same event id."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40, help_text="The webhook-id header: the same on every retry.")
    event_type = models.CharField(max_length=40, choices=WebhookEventType.choices)
    payload = models.TextField(help_text="The JSON body, exactly as signed and sent.")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    retry_until = models.DateTimeField(null=True, blank=True, help_text="No retry after this; a replay sets it again.")
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["company", "endpoint", "event_id"], name="integrations_delivery_event"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="integrations_delivery_due"),
            models.Index(fields=["company", "endpoint", "-created_at"], name="integrations_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class WebhookAttempt(CompanyOwned):
    """One try of one delivery: the log a person reads to see what the receiver answered."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    is_success = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook attempt"

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"
