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


class CallSource(models.TextChoices):
    PBX = "pbx", "PBX sync"
    PUSH = "push", "PBX push"
    UPLOAD = "upload", "Upload"


def recording_path(call: "Call", filename: str) -> str:
    """Company-scoped, so a bucket prefix or a folder never mixes tenants."""
    ext = (filename.rsplit(".", 1)[-1] if "." in filename else "bin").lower()[:5]
    return f"recordings/{call.company_id}/{call.started_at:%Y/%m}/{call.pbx_call_id}.{ext}"


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
    failure_code = models.CharField(max_length=40, blank=True, default="")
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

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["company", "pbx_call_id"], name="calls_call_unique_pbx_call_id"),
        ]
        indexes = [
            models.Index(fields=["company", "-started_at"], name="calls_call_company_started"),
            models.Index(fields=["company", "status"], name="calls_call_company_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} call {self.pbx_call_id} at {self.started_at:%Y-%m-%d %H:%M}"
