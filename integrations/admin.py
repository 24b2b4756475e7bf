from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from companies.admin import CompanyScopedAdmin
from integrations.models import EngineSettings, PbxAccount, SyncRun, SyncStatus, pbx_base_url_is_allowed
from integrations.services import (
    pbx_account_delete,
    pbx_account_save,
    pbx_account_test_connection,
    pbx_push_secret_rotate,
)

MASK = "••••••••"
BASE_URL_HELP = (
    "Empty: the server's PBX host (DIALIX_ONLINEPBX_BASE_URL). An override must be on DIALIX_PBX_BASE_URL_ALLOWLIST."
)


class PbxAccountForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"placeholder": MASK, "autocomplete": "new-password"}),
        help_text="The API key from the PBX panel (Integration → API). Stored encrypted; leave empty to keep it.",
    )

    class Meta:
        model = PbxAccount
        fields = [
            "company",
            "provider",
            "domain",
            "api_key",
            "api_base_url",
            "is_enabled",
            "sync_interval_minutes",
            "backfill_days",
            "overlap_minutes",
            "fetch_recordings",
            "operator_channel",
        ]

    def clean_api_key(self) -> str:
        value = self.cleaned_data.get("api_key", "")
        if not value and not (self.instance and self.instance.pk and self.instance.api_key):
            raise forms.ValidationError("The API key is required.")
        return value or self.instance.api_key


@admin.register(PbxAccount)
class PbxAccountAdmin(CompanyScopedAdmin):
    form = PbxAccountForm
    list_display = ["domain", "provider", "is_enabled", "sync_interval_minutes", "health", "sync_cursor"]
    list_select_related = ["company"]
    readonly_fields = ["api_key_masked", "sync_cursor", "last_success_at", "last_error", "last_error_at", "recent_runs"]
    fieldsets = [
        (None, {"fields": ["provider", "domain", "api_key", "api_key_masked"]}),
        ("Schedule", {"fields": ["is_enabled", "sync_interval_minutes", "backfill_days", "overlap_minutes"]}),
        ("Recordings", {"fields": ["fetch_recordings", "operator_channel"]}),
        ("State", {"fields": ["sync_cursor", "last_success_at", "last_error", "last_error_at", "recent_runs"]}),
    ]
    actions = ["test_connection", "sync_now", "rotate_push_secret"]

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not request.user.is_superuser:
            return fieldsets  # the PBX host is the server's: a company never chooses where its key is sent
        staff_only = ("Dialix staff", {"fields": ["api_base_url"], "description": BASE_URL_HELP})
        if obj is None:
            return [(None, {"fields": ["company"]}), *fieldsets, staff_only]
        return [*fieldsets, staff_only]

    def get_exclude(self, request: HttpRequest, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser:
            exclude.append("api_base_url")  # not in their form even if the fieldsets change
        return exclude

    @admin.display(description="API key")
    def api_key_masked(self, obj: PbxAccount) -> str:
        return f"{MASK}{obj.api_key[-4:]}" if obj.api_key and len(obj.api_key) > 8 else MASK

    @admin.display(description="Status")
    def health(self, obj: PbxAccount) -> str:
        if obj.last_error:
            return format_html(
                '<span style="color:#b00">failing since {}: {}</span>', obj.last_error_at, obj.last_error[:120]
            )
        if obj.last_success_at:
            return format_html('<span style="color:#070">ok, last read {}</span>', obj.last_success_at)
        return "not read yet"

    @admin.display(description="Recent syncs")
    def recent_runs(self, obj: PbxAccount) -> str:
        url = reverse("admin:integrations_syncrun_changelist")
        return format_html('<a href="{}">All sync runs of this PBX</a>', url)

    def save_model(self, request: HttpRequest, obj: PbxAccount, form, change: bool) -> None:
        if not request.user.is_superuser and not change:
            obj.company = self._user_company(request)
        if not request.user.is_superuser and obj.api_base_url and not pbx_base_url_is_allowed(obj.api_base_url):
            obj.api_base_url = ""  # set before overrides were staff-only: never used, it would only block saving
        pbx_account_save(account=obj)

    def delete_model(self, request: HttpRequest, obj: PbxAccount) -> None:
        pbx_account_delete(account=obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for account in queryset:
            pbx_account_delete(account=account)

    @admin.action(description="Test connection", permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset) -> None:
        for account in queryset:
            result = pbx_account_test_connection(account=account)
            level = messages.ERROR if "connection failed" in result else messages.SUCCESS
            self.message_user(request, result, level)

    @admin.action(description="Sync now", permissions=["change"])
    def sync_now(self, request: HttpRequest, queryset) -> None:
        from integrations.models import SyncKind
        from integrations.services import pbx_sync_queue

        runs = [pbx_sync_queue(account=account, kind=SyncKind.MANUAL) for account in queryset]
        self.message_user(request, f"Sync queued for {len(runs)} PBX account(s); see Sync runs for the result.")

    @admin.action(description="New webhook URL (shown once)", permissions=["change"])
    def rotate_push_secret(self, request: HttpRequest, queryset) -> None:
        for account in queryset:
            secret = pbx_push_secret_rotate(account=account)
            url = request.build_absolute_uri(reverse("calls:pbx-webhook", kwargs={"secret": secret}))
            self.message_user(
                request,
                f"Webhook URL for {account.domain}: {url} — set it in the PBX for 'call finished'. "
                "It is not shown again; the previous URL stops working now.",
                messages.WARNING,
            )


@admin.register(SyncRun)
class SyncRunAdmin(CompanyScopedAdmin):
    list_display = [
        "started_at",
        "kind",
        "status_coloured",
        "duration",
        "fetched",
        "created",
        "updated",
        "skipped",
        "error_short",
    ]
    list_select_related = ["company", "account"]
    list_filter = ["status", "kind"]
    show_full_result_count = False
    date_hierarchy = "started_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a record of what happened: read-only for everyone

    @admin.display(description="Status", ordering="status")
    def status_coloured(self, obj: SyncRun) -> str:
        colour = {SyncStatus.FAILED: "#b00", SyncStatus.SUCCEEDED: "#070"}.get(obj.status, "#555")
        return format_html('<b style="color:{}">{}</b>', colour, obj.get_status_display())

    @admin.display(description="Took")
    def duration(self, obj: SyncRun) -> str:
        end = obj.finished_at or timezone.now()
        return f"{(end - obj.started_at).total_seconds():.1f} s"

    @admin.display(description="Error")
    def error_short(self, obj: SyncRun) -> str:
        return obj.error[:160]


@admin.register(EngineSettings)
class EngineSettingsAdmin(CompanyScopedAdmin):
    list_display = [
        "__str__",
        "engine_uz",
        "engine_ru",
        "engine_en",
        "engine_unknown",
        "fallback_engine",
        "analyzer_engine",
    ]
    list_select_related = ["company"]
