import re

from django.conf import settings
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from companies.tenancy import CompanyOwned


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")


class CallStatus(models.TextChoices):
    """The pipeline's explicit states. Any step can end in FAILED, with failure_reason and the attempt count."""

    NEW = "new", _("New")
    RECORDING_STORED = "recording_stored", _("Recording stored")
    TRANSCRIBING = "transcribing", _("Transcribing")
    TRANSCRIBED = "transcribed", _("Transcribed")
    ANALYSING = "analysing", _("Analysing")
    DONE = "done", _("Done")
    SKIPPED = "skipped", _("Skipped (not answered: nothing to analyse)")
    FAILED = "failed", _("Failed")


class FailureCode(models.TextChoices):
    """Every failure a person can see on a call. The label is the explanation shown in the console and the API."""

    RECORDING_MISSING = (
        "recording_missing",
        _("The PBX has no recording for this call (asked again when it is re-read)"),
    )
    RECORDING_UNAVAILABLE = "recording_unavailable", _("The PBX did not deliver the recording after every retry")
    RECORDING_INVALID = "recording_invalid", _("The recording is not usable audio")
    RECORDING_TOO_LARGE = "recording_too_large", _("The recording is larger than the limit")
    RECORDING_TRUNCATED = "recording_truncated", _("The recording is shorter than the call (retried, then failed)")
    STT_UNDECODABLE = "stt_undecodable", _("Speech-to-text could not decode the audio")
    STT_NO_SPEECH = "stt_no_speech", _("No speech was heard in the recording")
    STT_UNAVAILABLE = "stt_unavailable", _("The speech-to-text engine kept failing (retried, then gave up)")
    STT_FAILED = "stt_failed", _("The speech-to-text engine refused the call")
    ANALYSIS_NO_TRANSCRIPT = "analysis_no_transcript", _("The call has no transcript turns to analyse")
    ANALYSIS_BAD_RESPONSE = "analysis_bad_response", _("The analyser answered nonsense twice")
    ANALYSIS_UNAVAILABLE = "analysis_unavailable", _("The analyser kept failing (retried, then gave up)")
    ANALYSIS_FAILED = "analysis_failed", _("The analyser refused the call")
    INTERNAL_ERROR = "internal_error", _("An unexpected error in Dialix (reported; the step can be run again)")


# Failures worth another try later (the sweeper or a person re-queues them); the others need a change first.
RETRYABLE_FAILURES = frozenset(
    {
        FailureCode.RECORDING_MISSING,
        FailureCode.RECORDING_UNAVAILABLE,
        FailureCode.RECORDING_TRUNCATED,
        FailureCode.STT_UNAVAILABLE,
        FailureCode.ANALYSIS_UNAVAILABLE,
        FailureCode.INTERNAL_ERROR,
    }
)


class ReviewState(models.TextChoices):
    """A person's review of the call's scorecards (issue 12), apart from the pipeline's status."""

    NOT_REVIEWED = "not_reviewed", _("Not reviewed")
    IN_REVIEW = "in_review", _("In review")
    REVIEWED = "reviewed", _("Reviewed")


class CrmLinkState(models.TextChoices):
    PENDING = "pending", _("Waiting to be linked")
    LINKED = "linked", _("Linked")
    NO_MATCH = "no_match", _("No CRM match")
    ERROR = "error", _("The CRM refused the lookup")


class DealSemantic(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class CallSource(models.TextChoices):
    PBX = "pbx", _("PBX sync")
    PUSH = "push", _("PBX push")
    UPLOAD = "upload", _("Upload")


def recording_path(call: "Call", filename: str) -> str:
    """Company-scoped, so a bucket prefix or a folder never mixes tenants. Built only from safe characters, whatever
    the call's id from its source or the uploaded file's name hold (slashes, dots, NUL...)."""
    ext = re.sub(r"[^a-z0-9]", "", filename.rsplit(".", 1)[-1].lower() if "." in filename else "")[:5] or "bin"
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", call.pbx_call_id)[:100].strip("_") or f"call-{call.pk or 'new'}"
    return f"recordings/{call.company_id}/{call.started_at:%Y/%m}/{name}.{ext}"


class Call(CompanyOwned):
    operator = models.ForeignKey(
        "operators.Operator",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
        verbose_name=_("operator"),
    )
    pbx_call_id = models.CharField(
        max_length=128,
        help_text=_("The call's id in its source (PBX uuid or external id)."),
        verbose_name=_("pbx call id"),
    )
    direction = models.CharField(max_length=10, choices=Direction.choices, verbose_name=_("direction"))
    customer_phone = models.CharField(
        max_length=20, blank=True, default="", help_text=_("E.164"), verbose_name=_("customer phone")
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    duration_seconds = models.PositiveIntegerField(default=0, verbose_name=_("duration seconds"))
    status = models.CharField(
        max_length=20, choices=CallStatus.choices, default=CallStatus.NEW, verbose_name=_("status")
    )
    # Ingestion (#4)
    source = models.CharField(
        max_length=10, choices=CallSource.choices, default=CallSource.PBX, verbose_name=_("source")
    )
    customer_phone_raw = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text=_("As the source gave it."),
        verbose_name=_("customer phone raw"),
    )
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))
    talk_seconds = models.PositiveIntegerField(
        default=0, help_text=_("Answered talk time; 0 = not answered."), verbose_name=_("talk seconds")
    )
    hangup_cause = models.CharField(max_length=64, blank=True, default="", verbose_name=_("hangup cause"))
    failure_code = models.CharField(
        max_length=40, choices=FailureCode.choices, blank=True, default="", verbose_name=_("failure code")
    )
    failure_reason = models.TextField(blank=True, default="", verbose_name=_("failure reason"))
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text=_("Attempts of the current pipeline step."), verbose_name=_("attempts")
    )
    recording = models.FileField(
        upload_to=recording_path, max_length=300, blank=True, default="", verbose_name=_("recording")
    )
    recording_sha256 = models.CharField(max_length=64, blank=True, default="", verbose_name=_("recording sha256"))
    recording_bytes = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("recording bytes"))
    recording_duration_seconds = models.FloatField(null=True, blank=True, verbose_name=_("recording duration seconds"))
    recording_channels = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("recording channels"))
    recording_sample_rate = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("recording sample rate"))
    recording_codec = models.CharField(max_length=32, blank=True, default="", verbose_name=_("recording codec"))
    recording_stored_at = models.DateTimeField(null=True, blank=True, verbose_name=_("recording stored at"))
    # Retention (issue 16): when the company's policy removed the recording, or the transcript and the analysis' texts;
    # the call, its scores and figures stay (calls.services.retention).
    recording_deleted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("recording deleted at"))
    text_deleted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("text deleted at"))
    # Transcription (#5): language and timing metrics computed from the word timings, whatever the engine
    language = models.CharField(
        max_length=5, blank=True, default="", help_text=_("Spoken language (uz/ru/en)."), verbose_name=_("language")
    )
    operator_talk_seconds = models.FloatField(null=True, blank=True, verbose_name=_("operator talk seconds"))
    customer_talk_seconds = models.FloatField(null=True, blank=True, verbose_name=_("customer talk seconds"))
    talk_ratio = models.FloatField(
        null=True, blank=True, help_text=_("Operator share of all talk, 0..1."), verbose_name=_("talk ratio")
    )
    silence_share = models.FloatField(
        null=True, blank=True, help_text=_("Share of the call nobody speaks, 0..1."), verbose_name=_("silence share")
    )
    longest_silence_seconds = models.FloatField(null=True, blank=True, verbose_name=_("longest silence seconds"))
    overtalk_seconds = models.FloatField(
        null=True, blank=True, help_text=_("Both sides speaking at once."), verbose_name=_("overtalk seconds")
    )
    interruptions = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("interruptions"))
    operator_words_per_minute = models.FloatField(null=True, blank=True, verbose_name=_("operator words per minute"))
    first_operator_word_seconds = models.FloatField(
        null=True, blank=True, verbose_name=_("first operator word seconds")
    )
    longest_customer_monologue_seconds = models.FloatField(
        null=True, blank=True, verbose_name=_("longest customer monologue seconds")
    )
    # Analysis (#6): the scorecards' outcome, kept on the call for lists and filters
    score = models.FloatField(
        null=True, blank=True, help_text=_("Mean of the call's checklist scores, 0..100."), verbose_name=_("score")
    )
    auto_fail = models.BooleanField(
        default=False, help_text=_("A critical checklist item was not met."), verbose_name=_("auto fail")
    )
    needs_review = models.BooleanField(
        default=False, help_text=_("Some evidence could not be verified."), verbose_name=_("needs review")
    )
    # The analysis' customer sentiment and outcome, kept on the call like the score: the aggregates over a period read
    # the calls alone (an index-only scan), never a join of every analysis (written with the move to DONE).
    customer_sentiment = models.CharField(max_length=10, blank=True, default="", verbose_name=_("customer sentiment"))
    outcome = models.CharField(max_length=20, blank=True, default="", verbose_name=_("outcome"))
    # Review (#12): one review per call, covering all its scorecards; written only by calls.services.review
    review_state = models.CharField(
        max_length=12, choices=ReviewState.choices, default=ReviewState.NOT_REVIEWED, verbose_name=_("review state")
    )
    review_claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("review claimed by"),
    )
    review_claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("review claimed at"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reviewed at"))
    # CRM (#14): the client and the deal the call most likely belongs to; written only by calls.services.crm
    crm_link_state = models.CharField(
        max_length=10, choices=CrmLinkState.choices, default=CrmLinkState.PENDING, verbose_name=_("CRM link")
    )
    crm_entity_kind = models.CharField(max_length=10, blank=True, default="", verbose_name=_("CRM client kind"))
    crm_entity_id = models.CharField(max_length=32, blank=True, default="", verbose_name=_("CRM client id"))
    crm_client_name = models.CharField(max_length=200, blank=True, default="", verbose_name=_("CRM client"))
    crm_deal_id = models.CharField(max_length=32, blank=True, default="", verbose_name=_("CRM deal id"))
    crm_deal_title = models.CharField(max_length=255, blank=True, default="", verbose_name=_("deal"))
    crm_deal_stage_id = models.CharField(max_length=64, blank=True, default="", verbose_name=_("deal stage id"))
    crm_deal_stage_name = models.CharField(max_length=200, blank=True, default="", verbose_name=_("deal stage"))
    crm_deal_funnel_name = models.CharField(max_length=200, blank=True, default="", verbose_name=_("deal funnel"))
    crm_deal_semantic = models.CharField(
        max_length=5, choices=DealSemantic.choices, blank=True, default="", verbose_name=_("deal outcome")
    )
    crm_url = models.CharField(
        max_length=400,
        blank=True,
        default="",
        help_text=_("Opens the deal (or the client) in the CRM."),
        verbose_name=_("CRM link URL"),
    )
    crm_linked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("CRM linked at"))

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = pgettext_lazy("model name", "calls")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["company", "pbx_call_id"], name="calls_call_unique_pbx_call_id"),
        ]
        indexes = [
            models.Index(fields=["company", "-started_at"], name="calls_call_company_started"),
            models.Index(fields=["company", "status"], name="calls_call_company_status"),
            # The calls list (#12): a number searched in any form is matched exactly; an operator's calls, newest first.
            models.Index(fields=["company", "customer_phone"], name="calls_call_company_phone"),
            models.Index(fields=["company", "operator", "-started_at"], name="calls_call_operator_started"),
            # The API's `ordering=-score` (#13): the exact ORDER BY expression (unscored calls last), so a page is read
            # from the index in order instead of sorting the company's calls.
            models.Index(
                F("company"),
                Coalesce(F("score"), Value(-1.0)).desc(),
                F("id").desc(),
                name="calls_call_company_score_rank",
            ),
            # The aggregates (#13): a period of a company's calls with every figure they count, read from the index
            # alone (PostgreSQL; elsewhere a plain index on the first two fields).
            models.Index(
                fields=["company", "started_at"],
                include=[
                    "status",
                    "score",
                    "auto_fail",
                    "talk_ratio",
                    "silence_share",
                    "operator",
                    "customer_sentiment",
                    "outcome",
                ],
                name="calls_call_company_figures",
            ),
            # CRM (#14): the calls list filtered by won/lost (and a conversion's deals); calls waiting to be linked.
            models.Index(fields=["company", "crm_deal_semantic", "-started_at"], name="calls_call_crm_semantic"),
            models.Index(fields=["company", "crm_link_state", "-started_at"], name="calls_call_crm_link_state"),
            # The sweeper (#10): calls of a state that have waited longest.
            models.Index(fields=["status", "updated_at"], name="calls_call_status_updated"),
            # The review queue (#12): a company's analysed calls not yet reviewed, oldest first (walked in order; the
            # flags and the sample are checked on the way, so the first page needs no sort of the whole company).
            models.Index(
                fields=["company", "started_at"],
                name="calls_call_review_queue",
                condition=models.Q(status="done") & ~models.Q(review_state="reviewed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} call {self.pbx_call_id} at {self.started_at:%Y-%m-%d %H:%M}"


class SpeakerMethod(models.TextChoices):
    CHANNELS = "channels", _("Stereo channels")
    DIARIZATION = "diarization", _("Voice clustering (mono)")
    ENGINE = "engine", _("Engine's diarization")


class Transcript(CompanyOwned):
    """The one current transcript of a call. Re-transcribing replaces it (and its utterances) in one transaction."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="transcript", verbose_name=_("call"))
    engine = models.CharField(max_length=60, verbose_name=_("engine"))
    language = models.CharField(max_length=5, verbose_name=_("language"))
    language_probability = models.FloatField(null=True, blank=True, verbose_name=_("language probability"))
    low_confidence = models.BooleanField(
        default=False,
        help_text=_("Not reliable (e.g. Uzbek from the offline engine): verify against the audio."),
        verbose_name=_("low confidence"),
    )
    speaker_method = models.CharField(max_length=12, choices=SpeakerMethod.choices, verbose_name=_("speaker method"))
    duration_ms = models.PositiveIntegerField(default=0, verbose_name=_("duration ms"))
    word_count = models.PositiveIntegerField(default=0, verbose_name=_("word count"))
    notes = models.JSONField(default=list, blank=True, verbose_name=_("notes"))
    processing_seconds = models.FloatField(null=True, blank=True, verbose_name=_("processing seconds"))

    class Meta:
        verbose_name = _("transcript")
        verbose_name_plural = _("transcripts")

    def __str__(self) -> str:
        return f"Transcript of call {self.call_id} ({self.engine}, {self.language})"


class Utterance(CompanyOwned):
    """One speaker turn, as a row: the console syncs it with the audio and it can be searched."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="utterances", verbose_name=_("call"))
    transcript = models.ForeignKey(
        Transcript, on_delete=models.CASCADE, related_name="utterances", verbose_name=_("transcript")
    )
    speaker = models.CharField(
        max_length=10, choices=[("operator", _("Operator")), ("customer", _("Customer"))], verbose_name=_("speaker")
    )
    start_ms = models.PositiveIntegerField(verbose_name=_("start ms"))
    end_ms = models.PositiveIntegerField(verbose_name=_("end ms"))
    text = models.TextField(verbose_name=_("text"))
    confidence = models.FloatField(null=True, blank=True, verbose_name=_("confidence"))

    class Meta:
        verbose_name = _("utterance")
        verbose_name_plural = _("utterances")
        ordering = ["call", "start_ms", "id"]
        indexes = [models.Index(fields=["call", "start_ms"], name="calls_utterance_call_start")]

    def __str__(self) -> str:
        return f"{self.speaker} {self.start_ms / 1000:.1f}s: {self.text[:60]}"

    @property
    def start_seconds(self) -> float:
        return self.start_ms / 1000


class CallEvent(CompanyOwned):
    """One step of a call's journey: every status change, who or what made it, and why. Written only by
    calls.services.states.call_transition (and for a new call, when it is created)."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events", verbose_name=_("call"))
    from_status = models.CharField(
        max_length=20, choices=CallStatus.choices, blank=True, default="", verbose_name=_("from status")
    )
    to_status = models.CharField(max_length=20, choices=CallStatus.choices, verbose_name=_("to status"))
    code = models.CharField(max_length=40, choices=FailureCode.choices, blank=True, default="", verbose_name=_("code"))
    reason = models.TextField(blank=True, default="", verbose_name=_("reason"))
    actor = models.CharField(
        max_length=120, help_text=_("The task, the sweeper or the person (user:<name>)."), verbose_name=_("actor")
    )

    class Meta:
        verbose_name = _("call event")
        verbose_name_plural = _("call events")
        ordering = ["call", "created_at", "id"]
        indexes = [models.Index(fields=["call", "created_at"], name="calls_callevent_call_created")]

    def __str__(self) -> str:
        return f"call {self.call_id}: {self.from_status or '-'} -> {self.to_status} by {self.actor}"


class CoachingNote(CompanyOwned):
    """A supervisor's comment on a call for its operator, optionally at a moment of the recording (issue 12).
    Stored for the operator to read once operators log in."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="coaching_notes", verbose_name=_("call"))
    operator = models.ForeignKey(
        "operators.Operator",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="coaching_notes",
        verbose_name=_("operator"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("author")
    )
    at_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("The moment of the recording, if any."), verbose_name=_("at ms")
    )
    text = models.TextField(verbose_name=_("text"))

    class Meta:
        verbose_name = _("coaching note")
        verbose_name_plural = _("coaching notes")
        ordering = ["call", "created_at", "id"]
        indexes = [models.Index(fields=["company", "operator", "-created_at"], name="calls_coaching_operator")]

    def __str__(self) -> str:
        return f"Coaching note on call {self.call_id} by {self.author}"


# Alert rules and their deliveries (calls/models_alerts.py, issue 16) and the CRM write-back outbox
# (calls/models_crm.py); imported here so they belong to this app.
from calls.models_alerts import AlertDelivery, AlertRule  # noqa: E402, F401
from calls.models_crm import CrmWriteBack  # noqa: E402, F401
