import re

from django.conf import settings
from django.db import models

from companies.tenancy import CompanyOwned


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class CallStatus(models.TextChoices):
    """The pipeline's explicit states. Any step can end in FAILED, with failure_reason and the attempt count."""

    NEW = "new", "New"
    RECORDING_STORED = "recording_stored", "Recording stored"
    TRANSCRIBING = "transcribing", "Transcribing"
    TRANSCRIBED = "transcribed", "Transcribed"
    ANALYSING = "analysing", "Analysing"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped (not answered: nothing to analyse)"
    FAILED = "failed", "Failed"


class FailureCode(models.TextChoices):
    """Every failure a person can see on a call. The label is the explanation shown in the console and the API."""

    RECORDING_MISSING = "recording_missing", "The PBX has no recording for this call (asked again when it is re-read)"
    RECORDING_UNAVAILABLE = "recording_unavailable", "The PBX did not deliver the recording after every retry"
    RECORDING_INVALID = "recording_invalid", "The recording is not usable audio"
    RECORDING_TOO_LARGE = "recording_too_large", "The recording is larger than the limit"
    RECORDING_TRUNCATED = "recording_truncated", "The recording is shorter than the call (retried, then failed)"
    STT_UNDECODABLE = "stt_undecodable", "Speech-to-text could not decode the audio"
    STT_NO_SPEECH = "stt_no_speech", "No speech was heard in the recording"
    STT_UNAVAILABLE = "stt_unavailable", "The speech-to-text engine kept failing (retried, then gave up)"
    STT_FAILED = "stt_failed", "The speech-to-text engine refused the call"
    ANALYSIS_NO_TRANSCRIPT = "analysis_no_transcript", "The call has no transcript turns to analyse"
    ANALYSIS_BAD_RESPONSE = "analysis_bad_response", "The analyser answered nonsense twice"
    ANALYSIS_UNAVAILABLE = "analysis_unavailable", "The analyser kept failing (retried, then gave up)"
    ANALYSIS_FAILED = "analysis_failed", "The analyser refused the call"
    INTERNAL_ERROR = "internal_error", "An unexpected error in Dialix (reported; the step can be run again)"


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

    NOT_REVIEWED = "not_reviewed", "Not reviewed"
    IN_REVIEW = "in_review", "In review"
    REVIEWED = "reviewed", "Reviewed"


class CallSource(models.TextChoices):
    PBX = "pbx", "PBX sync"
    PUSH = "push", "PBX push"
    UPLOAD = "upload", "Upload"


def recording_path(call: "Call", filename: str) -> str:
    """Company-scoped, so a bucket prefix or a folder never mixes tenants. Built only from safe characters, whatever
    the call's id from its source or the uploaded file's name hold (slashes, dots, NUL...)."""
    ext = re.sub(r"[^a-z0-9]", "", filename.rsplit(".", 1)[-1].lower() if "." in filename else "")[:5] or "bin"
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", call.pbx_call_id)[:100].strip("_") or f"call-{call.pk or 'new'}"
    return f"recordings/{call.company_id}/{call.started_at:%Y/%m}/{name}.{ext}"


class Call(CompanyOwned):
    operator = models.ForeignKey(
        "operators.Operator", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    pbx_call_id = models.CharField(max_length=128, help_text="The call's id in its source (PBX uuid or external id).")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    customer_phone = models.CharField(max_length=20, blank=True, default="", help_text="E.164")
    started_at = models.DateTimeField()
    duration_seconds = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=CallStatus.choices, default=CallStatus.NEW)
    # Ingestion (#4)
    source = models.CharField(max_length=10, choices=CallSource.choices, default=CallSource.PBX)
    customer_phone_raw = models.CharField(max_length=64, blank=True, default="", help_text="As the source gave it.")
    ended_at = models.DateTimeField(null=True, blank=True)
    talk_seconds = models.PositiveIntegerField(default=0, help_text="Answered talk time; 0 = not answered.")
    hangup_cause = models.CharField(max_length=64, blank=True, default="")
    failure_code = models.CharField(max_length=40, choices=FailureCode.choices, blank=True, default="")
    failure_reason = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Attempts of the current pipeline step.")
    recording = models.FileField(upload_to=recording_path, max_length=300, blank=True, default="")
    recording_sha256 = models.CharField(max_length=64, blank=True, default="")
    recording_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    recording_duration_seconds = models.FloatField(null=True, blank=True)
    recording_channels = models.PositiveSmallIntegerField(null=True, blank=True)
    recording_sample_rate = models.PositiveIntegerField(null=True, blank=True)
    recording_codec = models.CharField(max_length=32, blank=True, default="")
    recording_stored_at = models.DateTimeField(null=True, blank=True)
    # Transcription (#5): language and timing metrics computed from the word timings, whatever the engine
    language = models.CharField(max_length=5, blank=True, default="", help_text="Spoken language (uz/ru/en).")
    operator_talk_seconds = models.FloatField(null=True, blank=True)
    customer_talk_seconds = models.FloatField(null=True, blank=True)
    talk_ratio = models.FloatField(null=True, blank=True, help_text="Operator share of all talk, 0..1.")
    silence_share = models.FloatField(null=True, blank=True, help_text="Share of the call nobody speaks, 0..1.")
    longest_silence_seconds = models.FloatField(null=True, blank=True)
    overtalk_seconds = models.FloatField(null=True, blank=True, help_text="Both sides speaking at once.")
    interruptions = models.PositiveIntegerField(null=True, blank=True)
    operator_words_per_minute = models.FloatField(null=True, blank=True)
    first_operator_word_seconds = models.FloatField(null=True, blank=True)
    longest_customer_monologue_seconds = models.FloatField(null=True, blank=True)
    # Analysis (#6): the scorecards' outcome, kept on the call for lists and filters
    score = models.FloatField(null=True, blank=True, help_text="Mean of the call's checklist scores, 0..100.")
    auto_fail = models.BooleanField(default=False, help_text="A critical checklist item was not met.")
    needs_review = models.BooleanField(default=False, help_text="Some evidence could not be verified.")
    # Review (#12): one review per call, covering all its scorecards; written only by calls.services.review
    review_state = models.CharField(max_length=12, choices=ReviewState.choices, default=ReviewState.NOT_REVIEWED)
    review_claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_claimed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
    CHANNELS = "channels", "Stereo channels"
    DIARIZATION = "diarization", "Voice clustering (mono)"
    ENGINE = "engine", "Engine's diarization"


class Transcript(CompanyOwned):
    """The one current transcript of a call. Re-transcribing replaces it (and its utterances) in one transaction."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="transcript")
    engine = models.CharField(max_length=60)
    language = models.CharField(max_length=5)
    language_probability = models.FloatField(null=True, blank=True)
    low_confidence = models.BooleanField(
        default=False, help_text="Not reliable (e.g. Uzbek from the offline engine): verify against the audio."
    )
    speaker_method = models.CharField(max_length=12, choices=SpeakerMethod.choices)
    duration_ms = models.PositiveIntegerField(default=0)
    word_count = models.PositiveIntegerField(default=0)
    notes = models.JSONField(default=list, blank=True)
    processing_seconds = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Transcript of call {self.call_id} ({self.engine}, {self.language})"


class Utterance(CompanyOwned):
    """One speaker turn, as a row: the console syncs it with the audio and it can be searched."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="utterances")
    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="utterances")
    speaker = models.CharField(max_length=10, choices=[("operator", "Operator"), ("customer", "Customer")])
    start_ms = models.PositiveIntegerField()
    end_ms = models.PositiveIntegerField()
    text = models.TextField()
    confidence = models.FloatField(null=True, blank=True)

    class Meta:
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

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, choices=CallStatus.choices, blank=True, default="")
    to_status = models.CharField(max_length=20, choices=CallStatus.choices)
    code = models.CharField(max_length=40, choices=FailureCode.choices, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=120, help_text="The task, the sweeper or the person (user:<name>).")

    class Meta:
        ordering = ["call", "created_at", "id"]
        indexes = [models.Index(fields=["call", "created_at"], name="calls_callevent_call_created")]

    def __str__(self) -> str:
        return f"call {self.call_id}: {self.from_status or '-'} -> {self.to_status} by {self.actor}"


class CoachingNote(CompanyOwned):
    """A supervisor's comment on a call for its operator, optionally at a moment of the recording (issue 12).
    Stored for the operator to read once operators log in."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="coaching_notes")
    operator = models.ForeignKey(
        "operators.Operator", null=True, blank=True, on_delete=models.SET_NULL, related_name="coaching_notes"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at_ms = models.PositiveIntegerField(null=True, blank=True, help_text="The moment of the recording, if any.")
    text = models.TextField()

    class Meta:
        ordering = ["call", "created_at", "id"]
        indexes = [models.Index(fields=["company", "operator", "-created_at"], name="calls_coaching_operator")]

    def __str__(self) -> str:
        return f"Coaching note on call {self.call_id} by {self.author}"
