"""Webhook endpoints, the outbox (one delivery per event and endpoint) and the log of each attempt.

Imported by integrations/models.py, so the models belong to the integrations app."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from companies.tenancy import CompanyOwned
from integrations.fields import EncryptedTextField


class WebhookEventType(models.TextChoices):
    CALL_TRANSCRIBED = "call.transcribed", _("call.transcribed: the transcript is ready")
    CALL_ANALYSED = "call.analysed", _("call.analysed: summary, sentiments and scorecards are ready")
    CALL_FAILED = "call.failed", _("call.failed: the pipeline gave up on the call")
    CALL_CORRECTED = "call.corrected", _("call.corrected: a supervisor corrected a checklist answer")
    CALL_REVIEWED = "call.reviewed", _("call.reviewed: a supervisor marked the call reviewed")


class WebhookEndpoint(CompanyOwned):
    """Where a company wants events sent. The secret signs every delivery; it is shown once, stored encrypted."""

    url = models.URLField(
        max_length=500,
        help_text=_("Where events are POSTed: http(s) only; redirects are not followed."),
        verbose_name=_("url"),
    )
    description = models.CharField(max_length=200, blank=True, verbose_name=_("description"))
    events = models.JSONField(default=list, help_text=_("Event types sent to this endpoint."), verbose_name=_("events"))
    secret = EncryptedTextField(editable=False, verbose_name=_("secret"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    # Health, written only by delivery: the console shows why an endpoint stopped.
    consecutive_failures = models.PositiveIntegerField(
        default=0, editable=False, verbose_name=_("consecutive failures")
    )
    failing_since = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("failing since"))
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last success at"))
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("disabled at"))
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False, verbose_name=_("disabled reason"))

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed (gave up)")


class WebhookDelivery(CompanyOwned):
    """The outbox: one event for one endpoint, written in the transaction of the change that caused it. The body is
    kept as sent, so every retry and replay carries the same bytes and the same event id."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    event_id = models.CharField(
        max_length=40, help_text=_("The webhook-id header: the same on every retry."), verbose_name=_("event id")
    )
    event_type = models.CharField(max_length=40, choices=WebhookEventType.choices, verbose_name=_("event type"))
    payload = models.TextField(help_text=_("The JSON body, exactly as signed and sent."), verbose_name=_("payload"))
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, verbose_name=_("status")
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    retry_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("No retry after this; a replay sets it again."),
        verbose_name=_("retry until"),
    )
    last_status_code = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("last status code"))
    last_error = models.CharField(max_length=500, blank=True, verbose_name=_("last error"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
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

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    number = models.PositiveIntegerField(verbose_name=_("number"))
    status_code = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("status code"))
    error = models.CharField(max_length=500, blank=True, verbose_name=_("error"))
    duration_ms = models.PositiveIntegerField(default=0, verbose_name=_("duration ms"))
    is_success = models.BooleanField(default=False, verbose_name=_("is success"))

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"
