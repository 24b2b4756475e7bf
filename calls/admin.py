import logging

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from calls.models import Call, CallStatus, Direction
from calls.services.analysis import OverrideInvalid, item_result_override
from calls.services.upload import call_upload
from checklists.models import ItemResult
from companies.admin import CompanyScopedAdmin
from companies.tenancy import company_for
from dialix.errors import DialixError
from operators.models import Operator

logger = logging.getLogger(__name__)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class CallUploadForm(forms.Form):
    audio = MultipleFileField(help_text="One or many recordings (mp3, wav, ogg…). Each becomes a call.")
    direction = forms.ChoiceField(choices=Direction.choices)
    operator = forms.ModelChoiceField(queryset=Operator.objects.none(), required=False)
    started_at = forms.DateTimeField(initial=timezone.now, help_text="When the call(s) took place.")
    customer_phone = forms.CharField(required=False, max_length=64)

    def __init__(self, *args, operators, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operator"].queryset = operators


@admin.register(Call)
class CallAdmin(CompanyScopedAdmin):
    list_display = [
        "started_at",
        "operator",
        "direction",
        "customer_phone",
        "duration_seconds",
        "status_badge",
        "score_badge",
    ]
    list_select_related = ["operator", "company"]
    list_filter = ["status", "auto_fail", "needs_review", "direction", "source", "failure_code"]
    search_fields = ["pbx_call_id", "customer_phone", "operator__name"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    change_list_template = "admin/calls/call/change_list.html"
    readonly_fields = [
        "pbx_call_id",
        "source",
        "started_at",
        "ended_at",
        "duration_seconds",
        "talk_seconds",
        "hangup_cause",
        "customer_phone",
        "customer_phone_raw",
        "status",
        "failure_code",
        "failure_reason",
        "attempts",
        "recording_info",
    ]
    fieldsets = [
        (None, {"fields": ["pbx_call_id", "source", "operator", "direction", "customer_phone", "customer_phone_raw"]}),
        ("Timing", {"fields": ["started_at", "ended_at", "duration_seconds", "talk_seconds", "hangup_cause"]}),
        ("Pipeline", {"fields": ["status", "failure_code", "failure_reason", "attempts", "recording_info"]}),
    ]
    actions = [
        "reanalyse",
        "reanalyse_offline",
        "reanalyse_openai",
        "refetch_recording",
        "retranscribe",
        "retranscribe_offline",
        "retranscribe_openai",
        "retranscribe_uzbekvoice",
    ]
    change_form_template = "admin/calls/call/change_form.html"

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser and obj is None:
            return [(None, {"fields": ["company"]}), *fieldsets]
        return fieldsets

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Call) -> str:
        if obj.status == CallStatus.FAILED:
            return format_html('<b style="color:#b00" title="{}">Failed: {}</b>', obj.failure_reason, obj.failure_code)
        return obj.get_status_display()

    @admin.display(description="Score", ordering="score")
    def score_badge(self, obj: Call) -> str:
        if obj.score is None:
            return "—"
        flags = (" AUTO-FAIL" if obj.auto_fail else "") + (" review" if obj.needs_review else "")
        colour = "#b00" if obj.auto_fail else ("#a60" if obj.needs_review else "#222")
        return format_html('<b style="color:{}">{}{}</b>', colour, round(obj.score), flags)

    @admin.display(description="Recording")
    def recording_info(self, obj: Call) -> str:
        if not obj.recording:
            return "—"
        duration = "?" if obj.recording_duration_seconds is None else f"{obj.recording_duration_seconds:.1f}"
        return (
            f"{obj.recording_codec or '?'}, {obj.recording_channels or '?'} ch, {obj.recording_sample_rate or '?'} Hz, "
            f"{duration} s, {obj.recording_bytes or '?'} bytes, sha256 {obj.recording_sha256[:12] or '?'}…"
        )

    @admin.action(description="Fetch the recording again (failed calls)", permissions=["change"])
    def refetch_recording(self, request: HttpRequest, queryset) -> None:
        from calls.services.pipeline import calls_retry_recording

        count = calls_retry_recording(calls=queryset)
        self.message_user(request, f"{count} call(s) queued to fetch their recording again.")

    @admin.action(description="Re-analyse (keeps the transcript)", permissions=["change"])
    def reanalyse(self, request: HttpRequest, queryset, engine: str | None = None) -> None:
        from calls.services.analysis import calls_reanalyse

        count = calls_reanalyse(calls=queryset, engine=engine)
        self.message_user(request, f"{count} call(s) queued for analysis{f' with {engine}' if engine else ''}.")

    @admin.action(description="Re-analyse with the offline rules", permissions=["change"])
    def reanalyse_offline(self, request: HttpRequest, queryset) -> None:
        self.reanalyse(request, queryset, engine="offline")

    @admin.action(description="Re-analyse with the language model", permissions=["change"])
    def reanalyse_openai(self, request: HttpRequest, queryset) -> None:
        self.reanalyse(request, queryset, engine="openai")

    @admin.action(description="Re-transcribe (the company's engine)", permissions=["change"])
    def retranscribe(self, request: HttpRequest, queryset, engine: str | None = None) -> None:
        from calls.services.transcription import calls_retranscribe

        count = calls_retranscribe(calls=queryset, engine=engine)
        self.message_user(request, f"{count} call(s) queued for transcription{f' with {engine}' if engine else ''}.")

    @admin.action(description="Re-transcribe with the offline engine", permissions=["change"])
    def retranscribe_offline(self, request: HttpRequest, queryset) -> None:
        self.retranscribe(request, queryset, engine="offline")

    @admin.action(description="Re-transcribe with OpenAI", permissions=["change"])
    def retranscribe_openai(self, request: HttpRequest, queryset) -> None:
        self.retranscribe(request, queryset, engine="openai")

    @admin.action(description="Re-transcribe with UzbekVoice", permissions=["change"])
    def retranscribe_uzbekvoice(self, request: HttpRequest, queryset) -> None:
        self.retranscribe(request, queryset, engine="uzbekvoice")

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        call = self.get_object(request, object_id)
        if call is not None:
            from calls.selectors import call_transcript, call_utterances

            extra_context["call"] = call
            extra_context["transcript"] = call_transcript(call=call)
            from calls.selectors import call_analysis, call_events, call_scorecards

            extra_context["analysis"] = call_analysis(call=call)
            extra_context["scorecards"] = call_scorecards(call=call)
            extra_context["events"] = call_events(call=call)
            extra_context["utterances"] = list(call_utterances(call=call))
            extra_context["recording_url"] = (
                reverse("call_pages:recording", kwargs={"pk": call.pk}) if call.recording else None
            )
            extra_context["metrics"] = [
                ("Operator talk", call.operator_talk_seconds, "s"),
                ("Customer talk", call.customer_talk_seconds, "s"),
                ("Operator share of talk", None if call.talk_ratio is None else round(call.talk_ratio * 100), "%"),
                ("Silence", None if call.silence_share is None else round(call.silence_share * 100), "%"),
                ("Longest silence", call.longest_silence_seconds, "s"),
                ("Overtalk", call.overtalk_seconds, "s"),
                ("Interruptions", call.interruptions, ""),
                ("Operator speech rate", call.operator_words_per_minute, "words/min"),
                ("Operator's first word after", call.first_operator_word_seconds, "s"),
                ("Longest customer monologue", call.longest_customer_monologue_seconds, "s"),
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="calls_call_upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest):
        if not self.has_add_permission(request):
            raise PermissionDenied
        company = self._upload_company(request)
        operators = Operator.objects.for_company(company) if company else Operator.objects.none()
        form = CallUploadForm(request.POST or None, request.FILES or None, operators=operators)
        results = None
        if request.method == "POST" and form.is_valid() and company is not None:
            uploads = form.cleaned_data["audio"]
            results = [self._upload_one(company=company, upload=upload, form=form) for upload in uploads]
            created = sum(1 for row in results if row["outcome"] == "created")
            duplicates = sum(1 for row in results if row["outcome"] == "duplicate")
            failed = len(results) - created - duplicates
            self.message_user(
                request,
                f"{created} call(s) created, {duplicates} already known (not duplicated), {failed} not stored.",
                messages.WARNING if failed else messages.SUCCESS,
            )
            form = CallUploadForm(operators=operators, initial={"direction": form.cleaned_data["direction"]})
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload call recordings",
            "form": form,
            "opts": self.model._meta,
            "no_company": company is None,
            "results": results,
        }
        return TemplateResponse(request, "admin/calls/call/upload.html", context)

    def _upload_one(self, *, company, upload, form: CallUploadForm) -> dict:
        """One file of a batch, as its own unit: whatever happens to it, the other files are still stored."""
        row = {"name": upload.name, "outcome": "failed", "call": None, "url": None, "error": ""}
        try:
            result = call_upload(
                company=company,
                audio=upload,
                filename=upload.name,
                direction=form.cleaned_data["direction"],
                started_at=form.cleaned_data["started_at"],
                operator=form.cleaned_data["operator"],
                customer_phone=form.cleaned_data["customer_phone"],
            )
        except DialixError as exc:
            row["error"] = exc.message
            return row
        except Exception:  # a bug or a storage failure on one file: reported on its row, logged with the details
            logger.exception("call_upload_failed", extra={"company_id": company.pk, "upload_name": upload.name[:200]})
            row["error"] = "This file could not be stored (an internal error, logged). Try it again."
            return row
        row["outcome"] = "created" if result.created else "duplicate"
        row["call"] = result.call
        row["url"] = reverse("admin:calls_call_change", args=[result.call.pk])
        return row

    def _upload_company(self, request: HttpRequest):
        if request.user.is_superuser:
            return None  # staff upload on behalf of a company by logging in as its member
        return company_for(request)


class OverrideForm(forms.ModelForm):
    new_answer = forms.ChoiceField(
        choices=[("", "— choose —"), ("met", "Met"), ("not_met", "Not met"), ("na", "Not applicable")],
        required=True,
        label="New answer",
    )
    why = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=True, label="Reason")

    class Meta:
        model = ItemResult
        fields: list[str] = []

    def clean_new_answer(self) -> str:
        answer = self.cleaned_data["new_answer"]
        if answer == "na" and self.instance.pk and not self.instance.version_item.allow_na:
            raise forms.ValidationError("This item does not allow “not applicable”.")
        return answer


@admin.register(ItemResult)
class ItemResultAdmin(CompanyScopedAdmin):
    """Where a supervisor corrects one item's answer; the score is recomputed and the original kept."""

    form = OverrideForm
    list_display = ["call", "version_item", "answer", "source", "evidence_quote", "original_answer", "overridden_by"]
    list_select_related = ["call", "version_item", "overridden_by", "company"]
    list_filter = ["answer", "source"]
    show_full_result_count = False
    readonly_fields = [
        "call",
        "version_item",
        "answer",
        "source",
        "evidence_quote",
        "evidence_speaker",
        "evidence_ms",
        "reason",
        "original_answer",
        "original_source",
        "override_reason",
        "overridden_by",
        "overridden_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a machine's answer is corrected, never deleted: the scorecard would lose an item

    def response_change(self, request: HttpRequest, obj: ItemResult):
        if "_continue" in request.POST or "_save" not in request.POST:
            return super().response_change(request, obj)
        return HttpResponseRedirect(reverse("admin:calls_call_change", args=[obj.call_id]))  # back to the call

    def save_model(self, request: HttpRequest, obj: ItemResult, form, change: bool) -> None:
        company = obj.company if request.user.is_superuser else company_for(request)
        try:
            item_result_override(
                company=company,
                result_id=obj.pk,
                answer=form.cleaned_data["new_answer"],
                reason=form.cleaned_data["why"],
                by=request.user,
            )
        except OverrideInvalid as exc:
            self.message_user(request, f"Not changed: {exc.details}", messages.ERROR)
