"""Console for alerts (issue 16): a company's rules, and the deliveries with their status and last error."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from calls.models_alerts import AlertChannel, AlertDelivery, AlertRule, AlertStatus, AlertTrigger
from calls.services.alerts import alert_deliveries_retry
from companies.admin import CompanyScopedAdmin


class AlertRuleForm(forms.ModelForm):
    """The bot token is write-only: the form never shows it, and leaving it empty keeps the stored one."""

    telegram_bot_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        label=_("Telegram bot token"),
        help_text=_("From @BotFather; stored encrypted. Leave empty to keep the saved token."),
    )

    class Meta:
        model = AlertRule
        fields = [
            "name",
            "trigger",
            "phrases",
            "channel",
            "telegram_bot_token",
            "telegram_chat_id",
            "email_to",
            "daily_digest",
            "is_active",
        ]
        widgets = {"phrases": forms.Textarea(attrs={"rows": 3}), "telegram_chat_id": forms.TextInput()}

    def clean_telegram_bot_token(self) -> str:
        token = (self.cleaned_data.get("telegram_bot_token") or "").strip()
        return token or (self.instance.telegram_bot_token if self.instance.pk else "")

    def clean(self):
        data = super().clean()
        if data.get("trigger") == AlertTrigger.PHRASE and not (data.get("phrases") or "").strip():
            self.add_error("phrases", gettext("Give at least one phrase to listen for."))
        if data.get("channel") == AlertChannel.TELEGRAM:
            if not data.get("telegram_bot_token"):
                self.add_error("telegram_bot_token", gettext("A Telegram rule needs the bot's token."))
            if not (data.get("telegram_chat_id") or "").strip():
                self.add_error("telegram_chat_id", gettext("A Telegram rule needs the chat id."))
        if data.get("channel") == AlertChannel.EMAIL:
            addresses = [a.strip() for a in (data.get("email_to") or "").split(",") if a.strip()]
            if not addresses:
                self.add_error("email_to", gettext("An e-mail rule needs at least one address."))
            for address in addresses:
                try:
                    forms.EmailField().clean(address)
                except ValidationError:
                    self.add_error("email_to", gettext("%(address)s is not an e-mail address.") % {"address": address})
        return data


@admin.register(AlertRule)
class AlertRuleAdmin(CompanyScopedAdmin):
    form = AlertRuleForm
    list_display = ["name", "trigger", "channel", "daily_digest", "is_active", "sent", "failed"]
    list_filter = ["trigger", "channel", "is_active"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest):
        return (
            super()
            .get_queryset(request)
            .annotate(
                sent_count=Count("deliveries", filter=Q(deliveries__status=AlertStatus.SENT)),
                failed_count=Count("deliveries", filter=Q(deliveries__status=AlertStatus.FAILED)),
            )
        )

    @admin.display(description=_("sent"), ordering="sent_count")
    def sent(self, obj: AlertRule) -> int:
        return obj.sent_count

    @admin.display(description=_("failed"), ordering="failed_count")
    def failed(self, obj: AlertRule):
        if not obj.failed_count:
            return 0
        url = reverse("admin:calls_alertdelivery_changelist") + f"?rule__id__exact={obj.pk}&status__exact=failed"
        return format_html('<a href="{}">{}</a>', url, obj.failed_count)

    def save_model(self, request: HttpRequest, obj: AlertRule, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(CompanyScopedAdmin):
    """Written only by the alert tasks: read-only here; failed ones can be sent again."""

    list_display = ["created_at", "rule", "call_link", "status", "attempts", "last_error", "sent_at"]
    list_filter = ["status", ("rule", admin.RelatedOnlyFieldListFilter)]  # only the company's own rules
    list_select_related = ["rule", "call"]
    show_full_result_count = False
    actions = ["send_again"]
    readonly_fields = [
        "rule",
        "call_link",
        "status",
        "reason",
        "attempts",
        "last_error",
        "next_attempt_at",
        "sent_at",
        "digest_on",
        "created_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    @admin.display(description=_("call"))
    def call_link(self, obj: AlertDelivery):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:calls_call_change", args=[obj.call_id]), obj.call.pbx_call_id
        )

    @admin.action(description=_("Send failed alerts again"), permissions=["change"])
    def send_again(self, request: HttpRequest, queryset) -> None:
        count = alert_deliveries_retry(deliveries=queryset)
        if count:
            text = ngettext(
                "%(count)s alert queued to be sent again.", "%(count)s alerts queued to be sent again.", count
            )
            self.message_user(request, text % {"count": count})
        else:
            self.message_user(request, gettext("Only failed alerts are sent again."), messages.WARNING)
