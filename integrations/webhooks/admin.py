"""Webhooks in the console: endpoints (secret shown once), each endpoint's delivery log with attempts, replay.
Imported by integrations/admin.py."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from companies.admin import CompanyScopedAdmin
from companies.audit import AuditEvent, audit_access
from companies.tenancy import company_for
from dialix.errors import DialixError
from integrations.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEventType
from integrations.webhooks.services import (
    WebhookInvalid,
    webhook_delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(CompanyScopedAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "event_list", "is_active", "last_success_at", "consecutive_failures", "disabled_reason"]
    list_select_related = ["company"]
    list_filter = ["is_active"]
    readonly_fields = ["deliveries_link", "last_success_at", "consecutive_failures", "disabled_at", "disabled_reason"]
    actions = ["rotate_secret"]

    @admin.action(description=_("Rotate the signing secret (the new one is shown once)"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset) -> None:
        """A new secret per endpoint, shown once; the old one stops signing at once (issue 16: audited)."""
        for endpoint in queryset.select_related("company"):
            endpoint, secret = webhook_endpoint_rotate_secret(company=endpoint.company, endpoint_id=endpoint.pk)
            audit_access(request, endpoint, AuditEvent.WEBHOOK_SECRET_ROTATED, {"via": "console"})
            self.message_user(
                request,
                format_html(
                    "{}: new signing secret <code data-testid='webhook-secret'>{}</code> — copy it now; it is not "
                    "shown again.",
                    endpoint.url,
                    secret,
                ),
                messages.WARNING,
            )

    def get_fields(self, request: HttpRequest, obj=None):
        base = ["url", "description", "events", "is_active"]
        if request.user.is_superuser and obj is None:
            base = ["company", *base]
        return base if obj is None else [*base, *self.readonly_fields]

    @admin.display(description=_("Events"))
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events)

    @admin.display(description=_("Delivery log"))
    def deliveries_link(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:integrations_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html("<a href='{}'>{}</a>", url, _("Deliveries of this endpoint"))

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # The owner is told here when delivery switched an endpoint off, and why.
        for endpoint in self.get_queryset(request).filter(is_active=False).exclude(disabled_reason=""):
            self.message_user(
                request, f"Webhook endpoint {endpoint.url} is off: {endpoint.disabled_reason}", messages.ERROR
            )
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        data = form.cleaned_data
        try:
            if change:
                webhook_endpoint_update(
                    company=obj.company,
                    endpoint_id=obj.pk,
                    url=data["url"],
                    events=data["events"],
                    description=data.get("description", ""),
                    is_active=data["is_active"],
                )
                return
            company = obj.company if request.user.is_superuser else company_for(request)
            endpoint, secret = webhook_endpoint_create(
                company=company,
                url=data["url"],
                events=data["events"],
                description=data.get("description", ""),
                is_active=data["is_active"],
                by=request.user,
            )
        except WebhookInvalid as exc:
            self.message_user(request, f"Not saved: {exc.details}", messages.ERROR)
            raise
        obj.pk, obj.company, obj.created_at = endpoint.pk, company, endpoint.created_at
        self.message_user(
            request,
            format_html(
                "Signing secret: <code data-testid='webhook-secret'>{}</code> — copy it now; it is not shown again.",
                secret,
            ),
            messages.WARNING,
        )

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class Checked(form):
            def clean(self):
                cleaned = super().clean()
                from integrations.webhooks.addresses import url_problem

                problem = url_problem(cleaned.get("url") or "")
                if problem:
                    self.add_error("url", problem)
                return cleaned

        return Checked


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "created_at", "status_code", "error", "duration_ms", "is_success"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-number"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(CompanyScopedAdmin):
    list_display = ["created_at", "event_type", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at"]
    list_select_related = ["endpoint", "company"]
    # RelatedOnly: the endpoint choices come from this (company-scoped) list, never every company's endpoints.
    list_filter = ["status", "event_type", ("endpoint", admin.RelatedOnlyFieldListFilter)]
    show_full_result_count = False
    readonly_fields = [
        "endpoint",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "retry_until",
        "delivered_at",
        "payload",
    ]
    fields = readonly_fields
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Replay selected events (same id, a fresh day of retries)"), permissions=["change"])
    def replay(self, request: HttpRequest, queryset) -> None:
        done, refused = 0, []
        for delivery in queryset.select_related("company"):
            try:
                webhook_delivery_replay(company=delivery.company, delivery_id=delivery.pk)
                done += 1
            except DialixError as exc:
                refused.append(f"{delivery.event_id}: {exc.message}")
        self.message_user(request, f"{done} event(s) queued again.")
        if refused:
            self.message_user(request, "Not replayed: " + "; ".join(refused), messages.ERROR)
