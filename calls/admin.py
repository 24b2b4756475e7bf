import logging
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from calls.admin_list import CallListMixin
from calls.admin_review import CallReviewMixin
from calls.models import Call, CallStatus, Direction
from calls.services.analysis import OverrideInvalid, item_result_override
from calls.services.speakers import SwapNotPossible, call_swap_speakers
from calls.services.upload import call_upload
from checklists.models import ItemResult
from companies.admin import CompanyScopedAdmin
from companies.audit import AuditEvent, audit_access, audit_access_once
from companies.tenancy import company_for
from dialix.errors import DialixError
from operators.models import Operator

logger = logging.getLogger(__name__)


def clock(milliseconds: int) -> str:
    """A moment or a length of a call as a person reads it: m:ss (75 500 ms -> 1:15)."""
    minutes, seconds = divmod(int(milliseconds) // 1000, 60)
    return f"{minutes}:{seconds:02d}"


def _hide_pii(request: HttpRequest, call: Call, utterances, scorecards, analysis) -> bool:
    """The page's copies of the call's text with [CARD], [PHONE]… when the company hides PII from the viewer's role
    (issue 16); the rows themselves are unchanged. True when it did."""
    from calls.redaction import redact_text
    from calls.redaction_policy import pii_hidden_for

    if not pii_hidden_for(user=request.user, company=call.company):
        return False
    for turn in utterances:
        turn.text = redact_text(turn.text)
    for card in scorecards:
        for result in card.results.all():
            result.evidence_quote, result.reason = redact_text(result.evidence_quote), redact_text(result.reason)
    if analysis is not None:
        for name in ("summary", "customer_sentiment_reason", "operator_sentiment_reason", "purpose"):
            setattr(analysis, name, redact_text(getattr(analysis, name)))
        analysis.topics = [redact_text(topic) for topic in analysis.topics or ()]
    return True


def _js_strings() -> dict:
    """The words static/console/call_review.js shows, in the user's language (the page writes them with json_script:
    data, not code, so no Django JS catalog and no inline script). A plural message is given per CLDR category, which
    the script picks with Intl.PluralRules: a sample count per category gives gettext's form for it."""

    samples = {"one": 1, "few": 2, "many": 5, "other": 2}
    return {
        "turns_found": {c: ngettext("%(count)s turn", "%(count)s turns", n) for c, n in samples.items()},
        "not_saved": gettext("Not saved."),
        "saved": gettext("Saved: %(answer)s. The score is recomputed."),
        "no_answer": gettext("Not saved: the server did not answer. Try again."),
    }


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
    audio = MultipleFileField(help_text=_("One or many recordings (mp3, wav, ogg…). Each becomes a call."))
    direction = forms.ChoiceField(choices=Direction.choices)
    operator = forms.ModelChoiceField(queryset=Operator.objects.none(), required=False)
    started_at = forms.DateTimeField(initial=timezone.now, help_text=_("When the call(s) took place."))
    customer_phone = forms.CharField(required=False, max_length=64)

    def __init__(self, *args, operators, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operator"].queryset = operators


@admin.register(Call)
class CallAdmin(CallReviewMixin, CallListMixin, CompanyScopedAdmin):
    # The list (columns, filters, search, paginator) is CallListMixin's, in calls/admin_list.py.
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
        (_("Timing"), {"fields": ["started_at", "ended_at", "duration_seconds", "talk_seconds", "hangup_cause"]}),
        (_("Pipeline"), {"fields": ["status", "failure_code", "failure_reason", "attempts", "recording_info"]}),
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
        "swap_speakers",
        "crm_relink",
    ]
    change_form_template = "admin/calls/call/change_form.html"

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser and obj is None:
            return [(None, {"fields": ["company"]}), *fieldsets]
        return fieldsets

    @admin.display(description=_("Status"), ordering="status")
    def status_badge(self, obj: Call) -> str:
        if obj.status == CallStatus.FAILED:
            return format_html(
                '<b class="dlx-bad" title="{}">{}</b>',
                obj.failure_reason,
                gettext("Failed: %(code)s") % {"code": obj.failure_code},
            )
        return obj.get_status_display()

    @admin.display(description=_("Recording"))
    def recording_info(self, obj: Call) -> str:
        if not obj.recording:
            return "—"
        duration = "?" if obj.recording_duration_seconds is None else f"{obj.recording_duration_seconds:.1f}"
        return (
            f"{obj.recording_codec or '?'}, {obj.recording_channels or '?'} ch, {obj.recording_sample_rate or '?'} Hz, "
            f"{duration} s, {obj.recording_bytes or '?'} bytes, sha256 {obj.recording_sha256[:12] or '?'}…"
        )

    @admin.action(description=_("Find the client in the CRM again"), permissions=["change"])
    def crm_relink(self, request: HttpRequest, queryset) -> None:
        from calls.services.crm import calls_crm_relink

        count = calls_crm_relink(calls=queryset)
        text = gettext("%(count)s call(s) queued to be linked to the CRM again.")
        self.message_user(request, text % {"count": count})

    @admin.action(description=_("Fetch the recording again (failed calls)"), permissions=["change"])
    def refetch_recording(self, request: HttpRequest, queryset) -> None:
        from calls.services.pipeline import calls_retry_recording

        count = calls_retry_recording(calls=queryset)
        text = gettext("%(count)s call(s) queued to fetch their recording again.")
        self.message_user(request, text % {"count": count})

    @admin.action(description=_("Re-analyse (keeps the transcript)"), permissions=["change"])
    def reanalyse(self, request: HttpRequest, queryset, engine: str | None = None):
        from calls.services.analysis import calls_reanalyse

        queryset = queryset.filter(text_deleted_at__isnull=True)  # no text left to analyse (retention, issue 16)
        if "confirm" not in request.POST and queryset.count() > 1:
            return self._reanalyse_confirmation(request, queryset, engine)
        count = calls_reanalyse(calls=queryset, engine=engine)
        self._audit_calls(request, queryset, AuditEvent.CALL_REANALYSED, {"engine": engine or "", "via": "console"})
        if engine:
            text = gettext("%(count)s call(s) queued for analysis with %(engine)s.")
        else:
            text = gettext("%(count)s call(s) queued for analysis.")
        self.message_user(request, text % {"count": count, "engine": engine})

    @admin.action(description=_("Re-analyse with the offline rules"), permissions=["change"])
    def reanalyse_offline(self, request: HttpRequest, queryset):
        return self.reanalyse(request, queryset, engine="offline")

    @admin.action(description=_("Re-analyse with the language model"), permissions=["change"])
    def reanalyse_openai(self, request: HttpRequest, queryset):
        return self.reanalyse(request, queryset, engine="openai")

    def _reanalyse_confirmation(self, request: HttpRequest, queryset, engine: str | None):
        """Before a bulk re-analysis: how many calls, their minutes and the LLM tokens and cost it will take,
        estimated from the company's latest analyses (issue 16)."""
        from calls.usage import reanalysis_estimate

        company = self._user_company(request) or queryset.first().company
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Re-analyse %(count)s calls?") % {"count": queryset.count()},
            "opts": self.model._meta,
            "estimate": reanalysis_estimate(company=company, calls=queryset, engine=engine),
            "ids": list(queryset.values_list("pk", flat=True)),
            "action": request.POST.get("action", "reanalyse"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/calls/call/reanalyse_confirm.html", context)

    def _audit_calls(self, request: HttpRequest, queryset, event: str, details: dict) -> None:
        """One audit line per call an action was run on (issue 16)."""
        for call in queryset.select_related(None).only("id", "company_id", "pbx_call_id", "direction", "started_at"):
            audit_access(request, call, event, details)

    @admin.action(description=_("Re-transcribe (the company's engine)"), permissions=["change"])
    def retranscribe(self, request: HttpRequest, queryset, engine: str | None = None) -> None:
        from calls.services.transcription import calls_retranscribe

        queryset = queryset.filter(text_deleted_at__isnull=True)  # the retention policy removed its text for good
        count = calls_retranscribe(calls=queryset, engine=engine)
        self._audit_calls(request, queryset, AuditEvent.CALL_RETRANSCRIBED, {"engine": engine or "", "via": "console"})
        if engine:
            text = gettext("%(count)s call(s) queued for transcription with %(engine)s.")
        else:
            text = gettext("%(count)s call(s) queued for transcription.")
        self.message_user(request, text % {"count": count, "engine": engine})

    @admin.action(description=_("Re-transcribe with the offline engine"), permissions=["change"])
    def retranscribe_offline(self, request: HttpRequest, queryset) -> None:
        self.retranscribe(request, queryset, engine="offline")

    @admin.action(description=_("Re-transcribe with OpenAI"), permissions=["change"])
    def retranscribe_openai(self, request: HttpRequest, queryset) -> None:
        self.retranscribe(request, queryset, engine="openai")

    @admin.action(description=_("Re-transcribe with UzbekVoice"), permissions=["change"])
    def retranscribe_uzbekvoice(self, request: HttpRequest, queryset) -> None:
        self.retranscribe(request, queryset, engine="uzbekvoice")

    # --- The call review page: the change view, its two POST endpoints, the swap action (issue 12) -------------------

    @admin.action(description=_("Swap operator and customer (then re-analyse)"), permissions=["change"])
    def swap_speakers(self, request: HttpRequest, queryset) -> None:
        swapped, refused = 0, []
        for call in queryset.select_related("company"):
            try:
                call_swap_speakers(company=call.company, call_id=call.pk, by=request.user.get_username())
                swapped += 1
                audit_access(request, call, AuditEvent.SPEAKERS_SWAPPED, {"via": "console"})
            except SwapNotPossible as exc:
                refused.append(f"{call.pbx_call_id}: {exc.message}")
        self.message_user(
            request,
            gettext("Speakers swapped on %(count)s call(s); they are analysed again.") % {"count": swapped},
        )
        if refused:
            refusals = "; ".join(refused)
            self.message_user(request, gettext("Not swapped: %(calls)s") % {"calls": refusals}, messages.WARNING)

    def get_object(self, request: HttpRequest, object_id: str, from_field=None):
        """The call with what its review page's header shows (operator, company, transcript, analysis), read once per
        request: Django's change view asks for it again after the page's own context did."""
        cache = request.__dict__.setdefault("_dialix_review_calls", {})
        key = (str(object_id), from_field)
        if key not in cache:
            queryset = self.get_queryset(request).select_related(
                "operator", "company", "transcript", "analysis", "review_claimed_by", "reviewed_by"
            )
            field = Call._meta.pk if from_field is None else Call._meta.get_field(from_field)
            try:
                cache[key] = queryset.get(**{field.name: field.to_python(object_id)})
            except (Call.DoesNotExist, ValidationError, ValueError):
                cache[key] = None
        return cache[key]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser:
            # The raw fields are for Dialix staff; a member's crafted POST of the change form changes nothing.
            readonly += [f for f in flatten_fieldsets(self.get_fieldsets(request, obj)) if f not in readonly]
        return readonly

    def delete_model(self, request: HttpRequest, obj: Call) -> None:
        """The recording file, the rollups and the audit line too (calls.services.deletion)."""
        from calls.services.deletion import calls_delete

        calls_delete(calls=Call.objects.filter(pk=obj.pk), by=request)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        from calls.services.deletion import calls_delete

        calls_delete(calls=queryset, by=request)

    def get_deleted_objects(self, objs, request: HttpRequest):
        """The call's own rows (turns, scorecards, item results, notes) go with it: the right to delete the call is
        enough, whatever their own admins allow (item results are never deleted one by one)."""
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def changelist_view(self, request: HttpRequest, extra_context=None):
        from calls.services.sweeper import calls_swept_summary

        # The sweeper's banner: stuck calls it re-queued (and gave up on) in the last 24 h, one query.
        extra_context = {**(extra_context or {}), "swept": calls_swept_summary(company=self._user_company(request))}
        return super().changelist_view(request, extra_context)

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        call = self.get_object(request, object_id)
        if call is None:
            return super().change_view(request, object_id, form_url, extra_context)
        extra_context = {**(extra_context or {}), **self._review_context(request, call)}
        if extra_context.get("transcript") is not None and call.text_deleted_at is None:
            audit_access_once(request, call, AuditEvent.TRANSCRIPT_OPENED, {"via": "call page"})
        # Every time on the page (header, history, corrections) in the company's zone, which the page names.
        with timezone.override(ZoneInfo(call.company.time_zone)):
            response = super().change_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        return response

    def _review_context(self, request: HttpRequest, call: Call) -> dict:
        from calls.selectors import call_events, call_scorecards, call_utterances

        transcript = getattr(call, "transcript", None)  # selected with the call; None when not transcribed
        utterances = list(call_utterances(call=call))
        for turn in utterances:
            turn.clock = clock(turn.start_ms)
        scorecards = call_scorecards(call=call)
        for card in scorecards:
            for result in card.results.all():
                result.evidence_clock = None if result.evidence_ms is None else clock(result.evidence_ms)
        analysis = getattr(call, "analysis", None)
        pii_hidden = _hide_pii(request, call, utterances, scorecards, analysis)
        zone = ZoneInfo(call.company.time_zone)
        started = timezone.localtime(call.started_at, zone)
        return {
            "pii_hidden": pii_hidden,
            # Django's title and subtitle (str(call)) would show the time in UTC: the company's zone, named.
            "title": gettext("Call review"),
            "subtitle": gettext("%(direction)s call %(call)s · %(time)s (%(zone)s)")
            % {
                "direction": call.get_direction_display(),
                "call": call.pbx_call_id,
                "time": f"{started:%Y-%m-%d %H:%M}",
                "zone": call.company.time_zone,
            },
            "call": call,
            "transcript": transcript,
            "analysis": analysis,
            "scorecards": scorecards,
            "events": call_events(call=call),
            "utterances": utterances,
            "recording_url": reverse("call_pages:recording", kwargs={"pk": call.pk}) if call.recording else None,
            "started_local": started,
            "time_zone": call.company.time_zone,
            "duration_clock": clock(call.duration_seconds * 1000),
            "not_scored": bool(transcript and transcript.low_confidence),
            "can_review": self.has_change_permission(request, call),
            "engine_settings_url": reverse("admin:integrations_enginesettings_changelist"),
            "swap_url": reverse("admin:calls_call_swap_speakers", args=[call.pk]),
            "dlx_strings": _js_strings(),
            "metrics": [
                (gettext("Operator talk"), call.operator_talk_seconds, "s"),
                (gettext("Customer talk"), call.customer_talk_seconds, "s"),
                (
                    gettext("Operator share of talk"),
                    None if call.talk_ratio is None else round(call.talk_ratio * 100),
                    "%",
                ),
                (gettext("Silence"), None if call.silence_share is None else round(call.silence_share * 100), "%"),
                (gettext("Longest silence"), call.longest_silence_seconds, "s"),
                (gettext("Overtalk"), call.overtalk_seconds, "s"),
                (gettext("Interruptions"), call.interruptions, ""),
                (gettext("Operator speech rate"), call.operator_words_per_minute, gettext("words/min")),
                (gettext("Operator's first word after"), call.first_operator_word_seconds, "s"),
                (gettext("Longest customer monologue"), call.longest_customer_monologue_seconds, "s"),
            ],
        }

    def _review_call(self, request: HttpRequest, object_id: str) -> Call:
        """The call a review POST is about: 404 when not the user's company's, 403 without the right to change it."""
        call = self.get_object(request, object_id)
        if call is None:
            raise Http404
        if not self.has_change_permission(request, call):
            raise PermissionDenied
        return call

    def correct_item_view(self, request: HttpRequest, object_id: str, result_id: int):
        """A supervisor's correction of one item, from the review page: JSON for the page's script (it stays where
        it is, audio playing), a redirect back to the item for a plain form post."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        call = self._review_call(request, object_id)
        if not ItemResult.objects.for_company(call.company).filter(call=call, pk=result_id).exists():
            raise Http404
        wants_json = "application/json" in request.headers.get("Accept", "")
        back = reverse("admin:calls_call_change", args=[call.pk]) + f"#item-{result_id}"
        try:
            result = item_result_override(
                company=call.company,
                result_id=result_id,
                answer=request.POST.get("answer", ""),
                reason=request.POST.get("reason", ""),
                by=request.user,
            )
        except OverrideInvalid as exc:
            problems = " ".join(str(m) for found in exc.details.values() for m in found)
            if wants_json:
                return JsonResponse(
                    {"error": {"code": exc.code, "message": problems, "details": exc.details}}, status=400
                )
            self.message_user(request, gettext("Not changed: %(problems)s") % {"problems": problems}, messages.ERROR)
            return HttpResponseRedirect(back)
        call = Call.objects.only("score", "auto_fail", "needs_review").get(pk=call.pk)
        if wants_json:
            return JsonResponse(
                {
                    "result": {"id": result.pk, "answer": result.answer, "label": result.get_answer_display()},
                    "call": {"score": call.score, "auto_fail": call.auto_fail, "needs_review": call.needs_review},
                }
            )
        self.message_user(
            request,
            gettext("Answer corrected to “%(answer)s”; the score is recomputed.")
            % {"answer": result.get_answer_display()},
        )
        return HttpResponseRedirect(back)

    def swap_speakers_view(self, request: HttpRequest, object_id: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        call = self._review_call(request, object_id)
        try:
            call_swap_speakers(company=call.company, call_id=call.pk, by=request.user.get_username())
        except SwapNotPossible as exc:
            self.message_user(request, gettext("Speakers not swapped: %(why)s") % {"why": exc.message}, messages.ERROR)
        else:
            audit_access(request, call, AuditEvent.SPEAKERS_SWAPPED, {"via": "call page"})
            self.message_user(
                request,
                gettext("Operator and customer swapped; the call is analysed again, keeping supervisor corrections."),
            )
        return HttpResponseRedirect(reverse("admin:calls_call_change", args=[call.pk]))

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="calls_call_upload"),
            path(
                "<path:object_id>/items/<int:result_id>/correct/",
                self.admin_site.admin_view(self.correct_item_view),
                name="calls_call_correct_item",
            ),
            path(
                "<path:object_id>/swap-speakers/",
                self.admin_site.admin_view(self.swap_speakers_view),
                name="calls_call_swap_speakers",
            ),
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
                gettext(
                    "%(created)s call(s) created, %(duplicates)s already known (not duplicated), %(failed)s not stored."
                )
                % {"created": created, "duplicates": duplicates, "failed": failed},
                messages.WARNING if failed else messages.SUCCESS,
            )
            form = CallUploadForm(operators=operators, initial={"direction": form.cleaned_data["direction"]})
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Upload call recordings"),
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
            row["error"] = gettext("This file could not be stored (an internal error, logged). Try it again.")
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
        choices=[("", _("— choose —")), ("met", _("Met")), ("not_met", _("Not met")), ("na", _("Not applicable"))],
        required=True,
        label=_("New answer"),
    )
    why = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=True, label=_("Reason"))

    class Meta:
        model = ItemResult
        fields: list[str] = []

    def clean_new_answer(self) -> str:
        answer = self.cleaned_data["new_answer"]
        if answer == "na" and self.instance.pk and not self.instance.version_item.allow_na:
            raise forms.ValidationError(_("This item does not allow “not applicable”."))
        return answer


@admin.register(ItemResult)
class ItemResultAdmin(CompanyScopedAdmin):
    """Every item answer, for looking up; a supervisor corrects one on the call's review page (CallAdmin), where the
    score is recomputed and the original kept. The form below stays for Dialix staff."""

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

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Members correct in place on the call's review page (its player beside); this form is Dialix staff's.
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        result = None if request.user.is_superuser else self.get_object(request, object_id)
        if result is not None:  # an old link or bookmark: the item on its call's review page
            page = reverse("admin:calls_call_change", args=[result.call_id])
            return HttpResponseRedirect(f"{page}#item-{result.pk}")
        return super().change_view(request, object_id, form_url, extra_context)

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
            self.message_user(request, gettext("Not changed: %(problems)s") % {"problems": exc.details}, messages.ERROR)


from calls import admin_alerts  # noqa: E402,F401  (issue 16: alert rules and deliveries in the console)
