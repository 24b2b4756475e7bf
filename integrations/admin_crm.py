"""The CRM connection in the console (issue 14): owner and supervisor of a company connect their Bitrix24 portal,
test it part by part, see why it stopped and resume it; every poll is listed read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from companies.admin import CompanyScopedAdmin
from integrations.crm.base import ConnectionCheck
from integrations.models import CrmConnection, CrmSyncRun
from integrations.services_crm import (
    crm_connection_save,
    crm_connection_test,
    crm_webhook_masked,
    crm_webhook_problem,
)

MASK = "••••••••"
CSS = {"all": ["console/crm.css"]}


class CrmConnectionForm(forms.ModelForm):
    webhook_url = forms.CharField(
        label=_("Webhook URL"),
        required=False,
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"placeholder": "https://…/rest/1/" + MASK + "/", "autocomplete": "new-password", "size": 60},
        ),
        help_text=_(
            "The portal's incoming webhook, e.g. https://acme.bitrix24.kz/rest/1/abcd1234efgh5678/ (Bitrix24 → "
            "Developer resources → Other → Incoming webhook, with the crm scope). Stored encrypted and never shown "
            "again; leave empty to keep the current one."
        ),
    )

    class Meta:
        model = CrmConnection
        fields = [
            "company",
            "provider",
            "webhook_url",
            "is_enabled",
            "write_back",
            "write_language",
            "plan",
            "poll_interval_minutes",
        ]

    def clean_webhook_url(self) -> str:
        value = (self.cleaned_data.get("webhook_url") or "").strip()
        if not value:
            if self.instance and self.instance.pk and self.instance.webhook_url:
                return self.instance.webhook_url
            raise forms.ValidationError(_("The webhook URL is required."))
        problem = crm_webhook_problem(value)
        if problem:
            raise forms.ValidationError(problem)
        return value if value.endswith("/") else value + "/"


@admin.register(CrmConnection)
class CrmConnectionAdmin(CompanyScopedAdmin):
    form = CrmConnectionForm
    change_form_template = "admin/integrations/crmconnection/change_form.html"
    list_display = ["portal", "provider", "is_enabled", "write_back", "plan", "status", "last_success_at"]
    list_select_related = ["company"]
    readonly_fields = [
        "webhook_url_masked",
        "status",
        "last_success_at",
        "last_error",
        "last_error_at",
        "deals_cursor",
        "stages_refreshed_at",
        "recent_runs",
    ]
    fieldsets = [
        (None, {"fields": ["provider", "webhook_url", "webhook_url_masked", "is_enabled"]}),
        (
            _("Writing back"),
            {
                "fields": ["write_back", "write_language"],
                "description": _(
                    "After each analysis, once per call and analysis version (a correction updates it): on the "
                    "client's open deal, else on the contact, else the company, else the lead."
                ),
            },
        ),
        (_("Limits and schedule"), {"fields": ["plan", "poll_interval_minutes"]}),
        (
            _("State"),
            {
                "fields": [
                    "status",
                    "last_success_at",
                    "last_error",
                    "last_error_at",
                    "deals_cursor",
                    "stages_refreshed_at",
                    "recent_runs",
                ]
            },
        ),
    ]
    actions = ["test_connection", "resume"]

    class Media:
        css = CSS

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser and obj is None:
            return [(None, {"fields": ["company"]}), *fieldsets]
        return fieldsets

    @admin.display(description=_("Portal"))
    def portal(self, obj: CrmConnection) -> str:
        from urllib.parse import urlsplit

        return urlsplit(obj.webhook_url).netloc if obj.webhook_url else "—"

    @admin.display(description=_("Webhook URL (stored)"))
    def webhook_url_masked(self, obj: CrmConnection | None) -> str:
        return crm_webhook_masked(obj.webhook_url) if obj is not None and obj.webhook_url else "—"

    @admin.display(description=_("Status"))
    def status(self, obj: CrmConnection | None) -> str:
        if obj is None or obj.pk is None:
            return "—"
        if obj.stopped_at is not None:
            return format_html(
                '<span class="dlx-crm-stopped">{}</span> {}',
                gettext("Stopped %(at)s:") % {"at": f"{timezone.localtime(obj.stopped_at):%Y-%m-%d %H:%M}"},
                obj.stopped_reason or gettext("the portal refused us"),
            )
        if not obj.is_enabled:
            return format_html('<span class="dlx-crm-off">{}</span>', gettext("switched off"))
        if obj.last_error:
            return format_html('<span class="dlx-crm-failing">{}</span> {}', gettext("failing:"), obj.last_error[:160])
        if obj.last_success_at:
            return format_html('<span class="dlx-crm-ok">{}</span>', gettext("working"))
        return gettext("not used yet: run Test connection")

    @admin.display(description=_("Recent polls"))
    def recent_runs(self, obj: CrmConnection | None) -> str:
        url = reverse("admin:integrations_crmsyncrun_changelist")
        return format_html('<a href="{}">{}</a>', url, gettext("All CRM sync runs"))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and obj.stopped_at is not None and request.method == "GET":
            self.message_user(
                request,
                gettext(
                    "This connection is stopped: %(reason)s — fix it in Bitrix24, then Save (or Resume) to use it "
                    "again."
                )
                % {"reason": obj.stopped_reason or gettext("the portal refused us")},
                messages.ERROR,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: CrmConnection, form, change: bool) -> None:
        if not request.user.is_superuser and not change:
            obj.company = self._user_company(request)
        crm_connection_save(connection=obj)

    @admin.action(description=_("Test connection"), permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset) -> None:
        for connection in queryset:
            check = crm_connection_test(connection=connection)
            level = messages.SUCCESS if check.ok else messages.ERROR
            self.message_user(request, _check_message(connection, check), level)

    @admin.action(description=_("Resume (after fixing it in Bitrix24)"), permissions=["change"])
    def resume(self, request: HttpRequest, queryset) -> None:
        for connection in queryset:
            check = crm_connection_test(connection=connection)
            if check.ok:
                crm_connection_save(connection=connection)
                self.message_user(
                    request,
                    gettext("%(portal)s: resumed; calls are linked and results written back again.")
                    % {"portal": self.portal(connection)},
                    messages.SUCCESS,
                )
            else:
                self.message_user(request, _check_message(connection, check), messages.ERROR)


def _check_message(connection: CrmConnection, check: ConnectionCheck) -> str:
    from urllib.parse import urlsplit

    portal = urlsplit(connection.webhook_url).netloc if connection.webhook_url else "—"
    summary = gettext("connected: everything Dialix reads works.") if check.ok else gettext("not working:")
    items = format_html_join(
        "",
        '<li class="{}">{} {}: {}</li>',
        (("dlx-crm-ok" if ok else "dlx-crm-fail", "✓" if ok else "✗", name, text) for name, ok, text in check.parts),
    )
    return format_html('{}: {}<ul class="dlx-crm-check">{}</ul>', portal, summary, items)


@admin.register(CrmSyncRun)
class CrmSyncRunAdmin(CompanyScopedAdmin):
    list_display = [
        "started_at",
        "kind",
        "status_shown",
        "duration",
        "requests",
        "deals_read",
        "calls_updated",
        "error_short",
    ]
    list_select_related = ["company", "connection"]
    list_filter = ["status", "kind"]
    show_full_result_count = False
    fields = [
        "connection",
        "kind",
        "status",
        "started_at",
        "finished_at",
        "requests",
        "deals_read",
        "calls_updated",
        "error",
    ]

    class Media:
        css = CSS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a record of what happened: read-only for everyone

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("Status"), ordering="status")
    def status_shown(self, obj: CrmSyncRun) -> str:
        css = {"failed": "dlx-crm-fail", "succeeded": "dlx-crm-ok"}.get(obj.status, "dlx-crm-off")
        return format_html('<b class="{}">{}</b>', css, obj.status)

    @admin.display(description=_("Took"))
    def duration(self, obj: CrmSyncRun) -> str:
        end = obj.finished_at or timezone.now()
        return f"{(end - obj.started_at).total_seconds():.1f} s"

    @admin.display(description=_("Error"))
    def error_short(self, obj: CrmSyncRun) -> str:
        return obj.error[:160]
