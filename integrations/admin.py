import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from companies.admin import CompanyScopedAdmin
from companies.audit import AuditEvent, audit_access
from integrations.models import EngineSettings, PbxAccount, SyncKind, SyncRun, SyncStatus, pbx_base_url_is_allowed
from integrations.services import (
    BACKFILL_MAX,
    BackfillRefused,
    pbx_account_delete,
    pbx_account_save,
    pbx_account_test_connection,
    pbx_backfill_queue,
    pbx_backfill_resume,
    pbx_push_secret_rotate,
    pbx_push_signing_key,
)

MASK = "••••••••"
BASE_URL_HELP = (
    "Empty: the server's PBX host (DIALIX_ONLINEPBX_BASE_URL). An override must be on DIALIX_PBX_BASE_URL_ALLOWLIST."
)


class PbxAccountForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"placeholder": MASK, "autocomplete": "new-password"}),
        help_text=_("The API key from the PBX panel (Integration → API). Stored encrypted; leave empty to keep it."),
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
            raise forms.ValidationError(_("The API key is required."))
        return value or self.instance.api_key


class ReadHistoryForm(forms.Form):
    since = forms.DateField(
        label=_("Read calls from"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=format_lazy(
            _(
                "The day (in the company's time zone) to read from, up to now; at most {days} days back. "
                "Calls already stored are not duplicated."
            ),
            days=BACKFILL_MAX.days,
        ),
    )


@admin.register(PbxAccount)
class PbxAccountAdmin(CompanyScopedAdmin):
    form = PbxAccountForm
    list_display = ["domain", "provider", "is_enabled", "sync_interval_minutes", "health", "sync_cursor"]
    list_select_related = ["company"]
    readonly_fields = ["api_key_masked", "sync_cursor", "last_success_at", "last_error", "last_error_at", "recent_runs"]
    fieldsets = [
        (None, {"fields": ["provider", "domain", "api_key", "api_key_masked"]}),
        (_("Schedule"), {"fields": ["is_enabled", "sync_interval_minutes", "backfill_days", "overlap_minutes"]}),
        (_("Recordings"), {"fields": ["fetch_recordings", "operator_channel"]}),
        (_("State"), {"fields": ["sync_cursor", "last_success_at", "last_error", "last_error_at", "recent_runs"]}),
    ]
    actions = ["test_connection", "sync_now", "read_history", "rotate_push_secret"]

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not request.user.is_superuser:
            return fieldsets  # the PBX host is the server's: a company never chooses where its key is sent
        staff_only = (_("Dialix staff"), {"fields": ["api_base_url"], "description": BASE_URL_HELP})
        if obj is None:
            return [(None, {"fields": ["company"]}), *fieldsets, staff_only]
        return [*fieldsets, staff_only]

    def get_exclude(self, request: HttpRequest, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser:
            exclude.append("api_base_url")  # not in their form even if the fieldsets change
        return exclude

    @admin.display(description=_("API key"))
    def api_key_masked(self, obj: PbxAccount) -> str:
        return f"{MASK}{obj.api_key[-4:]}" if obj.api_key and len(obj.api_key) > 8 else MASK

    @admin.display(description=_("Status"))
    def health(self, obj: PbxAccount) -> str:
        if obj.last_error:
            return format_html(
                '<span class="dlx-bad">failing since {}: {}</span>', obj.last_error_at, obj.last_error[:120]
            )
        if obj.last_success_at:
            return format_html('<span class="dlx-good">ok, last read {}</span>', obj.last_success_at)
        return "not read yet"

    @admin.display(description=_("Recent syncs"))
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

    @admin.action(description=_("Test connection"), permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset) -> None:
        for account in queryset:
            result = pbx_account_test_connection(account=account)
            level = messages.ERROR if "connection failed" in result else messages.SUCCESS
            self.message_user(request, result, level)

    @admin.action(description=_("Sync now"), permissions=["change"])
    def sync_now(self, request: HttpRequest, queryset) -> None:
        from integrations.services import pbx_sync_queue

        runs = [pbx_sync_queue(account=account, kind=SyncKind.MANUAL) for account in queryset]
        text = gettext("Sync queued for %(count)s PBX account(s); see Sync runs for the result.")
        self.message_user(request, text % {"count": len(runs)})

    @admin.action(description=_("Read history from…"), permissions=["change"])
    def read_history(self, request: HttpRequest, queryset):
        """Asks for a day on a page of its own, then queues a backfill run per account (see Sync runs)."""
        form = ReadHistoryForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            for account in queryset.select_related("company"):
                since = dt.datetime.combine(
                    form.cleaned_data["since"], dt.time.min, ZoneInfo(account.company.time_zone)
                )
                try:
                    run = pbx_backfill_queue(account=account, since=since)
                except BackfillRefused as exc:
                    self.message_user(request, f"{account.domain}: {exc}", messages.ERROR)
                    continue
                self.message_user(
                    request,
                    gettext(
                        "%(account)s: reading the history from %(day)s in %(windows)s window(s) of 7 days "
                        "(sync run %(run)s); see Sync runs for its progress."
                    )
                    % {
                        "account": account.domain,
                        "day": f"{form.cleaned_data['since']:%Y-%m-%d}",
                        "windows": run.windows_total,
                        "run": run.pk,
                    },
                )
            return None
        from integrations.signals import backfill_estimate_requested

        estimates = []  # what a day of history costs, per account's company (issue 16; calls answers the signal)
        for account in queryset:
            answers = backfill_estimate_requested.send(sender="integrations", company_id=account.company_id)
            for _receiver, estimate in answers:
                if isinstance(estimate, dict):
                    estimates.append({"account": account.domain, **estimate})
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Read history from…"),
            "opts": self.model._meta,
            "form": form,
            "estimates": estimates,
            "accounts": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/integrations/pbxaccount/read_history.html", context)

    @admin.action(description=_("New webhook URL (shown once)"), permissions=["change"])
    def rotate_push_secret(self, request: HttpRequest, queryset) -> None:
        for account in queryset:
            secret = pbx_push_secret_rotate(account=account)
            audit_access(request, account, AuditEvent.WEBHOOK_SECRET_ROTATED, {"kind": "pbx_push", "via": "console"})
            url = request.build_absolute_uri(reverse("calls:pbx-webhook", kwargs={"secret": secret}))
            push_url = request.build_absolute_uri(reverse("calls:pbx-push"))
            key_id, _ = pbx_push_signing_key(raw=secret)
            self.message_user(
                request,
                gettext(
                    "Webhook for %(account)s ('call finished'): POST to %(push_url)s with the header "
                    "'Authorization: Bearer %(secret)s', or sign the body (X-Dialix-Signature, key id %(key_id)s, "
                    "see the README). Only a PBX that cannot send headers: %(url)s. "
                    "It is not shown again; the previous secret stops working now."
                )
                % {"account": account.domain, "push_url": push_url, "secret": secret, "key_id": key_id, "url": url},
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
        "progress",
        "rejected",
        "error_short",
    ]
    list_select_related = ["company", "account"]
    list_filter = ["status", "kind"]
    show_full_result_count = False
    date_hierarchy = "started_at"
    fields = [
        "account",
        "kind",
        "status",
        "started_at",
        "finished_at",
        "window_from",
        "window_to",
        "progress",
        "fetched",
        "created",
        "updated",
        "skipped",
        "operators_created",
        "rejected",
        "rejected_list",
        "error",
    ]
    readonly_fields = ["progress", "rejected_list"]
    actions = ["resume_backfill"]

    def has_resume_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_pbxaccount")  # who may sync the PBX may resume its read

    @admin.action(description=_("Resume the backfill"), permissions=["resume"])
    def resume_backfill(self, request: HttpRequest, queryset) -> None:
        resumed = 0
        for run in queryset.select_related("account"):
            try:
                resumed += pbx_backfill_resume(run=run)
            except BackfillRefused as exc:
                self.message_user(request, str(exc), messages.ERROR)
        skipped = len(queryset) - resumed
        text = gettext("%(count)s history read(s) resumed from where they stopped.") % {"count": resumed}
        if skipped:
            text = gettext(
                "%(count)s history read(s) resumed from where they stopped; %(skipped)s not resumed (only a failed "
                "history read that has more to read)."
            ) % {"count": resumed, "skipped": skipped}
        self.message_user(request, text)

    @admin.display(description=_("Progress"))
    def progress(self, obj: SyncRun) -> str:
        if obj.kind != SyncKind.BACKFILL:
            return "—"
        done = {"done": obj.windows_done, "total": obj.windows_total, "fetched": obj.fetched}
        if obj.cursor:
            upto = f"{timezone.localtime(obj.cursor):%Y-%m-%d %H:%M}"
            return gettext("%(done)s of %(total)s windows, %(fetched)s calls read, read up to %(upto)s") % {
                **done,
                "upto": upto,
            }
        return gettext("%(done)s of %(total)s windows, %(fetched)s calls read") % done

    @admin.display(description=_("Rejected records"))
    def rejected_list(self, obj: SyncRun) -> str:
        if not obj.rejected:
            return "none"
        rows = format_html_join(
            "",
            "<li><code>{}</code>: {}</li>",
            ((r.get("uuid") or "(no uuid)", r.get("reason", "")) for r in obj.rejected_records),
        )
        more = obj.rejected - len(obj.rejected_records)
        tail = format_html("<li>… and {} more</li>", more) if more > 0 else ""
        return format_html('<ul class="rejected-records">{}{}</ul>', rows, tail)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a record of what happened: read-only for everyone

    @admin.display(description=_("Status"), ordering="status")
    def status_coloured(self, obj: SyncRun) -> str:
        colour = {SyncStatus.FAILED: "dlx-bad", SyncStatus.SUCCEEDED: "dlx-good"}.get(obj.status, "dlx-muted")
        return format_html('<b class="{}">{}</b>', colour, obj.get_status_display())

    @admin.display(description=_("Took"))
    def duration(self, obj: SyncRun) -> str:
        end = obj.finished_at or timezone.now()
        return f"{(end - obj.started_at).total_seconds():.1f} s"

    @admin.display(description=_("Error"))
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
    readonly_fields = ["uzbek_advice", "effective_engines", "engines_configured"]
    USE_UZBEKVOICE = "_use_uzbekvoice"

    @admin.display(description=_("Uzbek calls"))
    def uzbek_advice(self, obj: EngineSettings | None) -> str:
        """The one-click recommendation: the offline engine reads Uzbek with low confidence (such calls are never
        scored), so a company that takes Uzbek calls is offered UzbekVoice for them."""
        from django.conf import settings

        from integrations.models import SttEngine

        if obj is None or obj.pk is None or "uz" not in (obj.company.languages or ()):
            return "—"
        if obj.engine_uz in (SttEngine.UZBEKVOICE, SttEngine.OPENAI):
            return gettext("Read by %(engine)s.") % {"engine": SttEngine(obj.engine_uz).label}
        advice = gettext(
            "The offline engine reads Uzbek with low confidence: Uzbek calls get timing figures but no score. "
            "Recommended: UzbekVoice, made for Uzbek."
        )
        if not _engines_configured(settings)["uzbekvoice"]:
            return format_html(
                "<p>{}</p><p class='dlx-warning'>{}</p>",
                advice,
                gettext(
                    "UzbekVoice has no API key on this server yet: ask your Dialix administrator to set "
                    "UZBEKVOICE_API_KEY."
                ),
            )
        return format_html(
            "<p>{}</p><button type='submit' class='button default' name='{}' value='1'>{}</button>",
            advice,
            self.USE_UZBEKVOICE,
            gettext("Use UzbekVoice for Uzbek"),
        )

    def save_model(self, request, obj, form, change) -> None:
        from integrations.models import SttEngine

        if self.USE_UZBEKVOICE in request.POST:
            obj.engine_uz = SttEngine.UZBEKVOICE
            messages.success(request, gettext("Uzbek calls are read by UzbekVoice from now on."))
        super().save_model(request, obj, form, change)

    @admin.display(description=_("Engines in use"))
    def effective_engines(self, obj: EngineSettings | None) -> str:
        """What each language and the analyser really use: the company's choice, or the server's default."""
        from django.conf import settings

        from integrations.models import AnalyzerEngine, SttEngine

        configured = _engines_configured(settings)
        rows = []
        for label, field in [
            (gettext("Uzbek"), "engine_uz"),
            (gettext("Russian"), "engine_ru"),
            (gettext("English"), "engine_en"),
            (gettext("Language not known in advance"), "engine_unknown"),
        ]:
            chosen = getattr(obj, field, "") if obj is not None else ""
            engine = chosen or settings.DIALIX_STT_ENGINE
            fallback = obj.fallback_engine if obj is not None else SttEngine.OFFLINE
            rows.append(
                (
                    label,
                    SttEngine(engine).label if engine in SttEngine.values else engine,
                    gettext("company's choice") if chosen else gettext("server default"),
                    ""
                    if configured.get(engine, True)
                    else gettext(" — not configured: %(engine)s is used") % {"engine": fallback},
                )
            )
        chosen = obj.analyzer_engine if obj is not None else ""
        engine = chosen or settings.DIALIX_ANALYZER_ENGINE
        rows.append(
            (
                gettext("Analyser"),
                AnalyzerEngine(engine).label if engine in AnalyzerEngine.values else engine,
                gettext("company's choice") if chosen else gettext("server default"),
                "" if configured.get(engine, True) else gettext(" — not configured"),
            )
        )
        return format_html(
            "<ul class='dlx-engines'>{}</ul>",
            format_html_join("", "<li>{}: <b>{}</b> ({}){}</li>", rows),
        )

    @admin.display(description=_("Engines configured on this server"))
    def engines_configured(self, obj: EngineSettings | None) -> str:
        from django.conf import settings

        configured = _engines_configured(settings)
        return format_html_join(
            ", ", "{} {}", ((name, "✓ key present" if ok else "✗ no key") for name, ok in configured.items())
        )


def _engines_configured(settings) -> dict[str, bool]:
    """Which engines can run here: the offline ones always, a cloud one when its key is set."""
    return {
        "offline": True,
        "openai": bool(settings.OPENAI_API_KEY),
        "uzbekvoice": bool(settings.UZBEKVOICE_API_KEY),
    }


import integrations.admin_crm  # noqa: E402, F401 - registers the CRM connection admins (issue 14)
import integrations.webhooks.admin  # noqa: E402, F401 - registers the webhook admins
