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
    FAILED = "failed", "Failed"


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

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["company", "pbx_call_id"], name="calls_call_unique_pbx_call_id"),
        ]
        indexes = [models.Index(fields=["company", "-started_at"], name="calls_call_company_started")]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} call {self.pbx_call_id} at {self.started_at:%Y-%m-%d %H:%M}"
