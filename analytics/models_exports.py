"""Background exports of the dashboard (issue 15): a job per request of a big table, its progress and its file, kept
for settings.DIALIX_EXPORT_KEEP_HOURS. Imported at the end of analytics/models.py so the model belongs to the app."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from companies.tenancy import CompanyOwned


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


def export_path(job: "ExportJob", filename: str) -> str:
    """Company-scoped like the recordings, so a bucket prefix or a folder never mixes tenants."""
    return f"exports/{job.company_id}/{filename}"


class ExportJob(CompanyOwned):
    """One export the dashboard runs in the background. Written only by analytics.exports (services)."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("requested by"),
    )
    table = models.CharField(max_length=30, help_text=_("Which table of the dashboard."), verbose_name=_("table"))
    format = models.CharField(max_length=4, choices=ExportFormat.choices, verbose_name=_("format"))
    params = models.JSONField(
        default=dict, blank=True, help_text=_("The dashboard's filters, as URL parameters."), verbose_name=_("params")
    )
    status = models.CharField(
        max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED, verbose_name=_("status")
    )
    rows_total = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("rows total"))
    rows_done = models.PositiveIntegerField(default=0, verbose_name=_("rows done"))
    file = models.FileField(upload_to=export_path, max_length=300, blank=True, default="", verbose_name=_("file"))
    error = models.CharField(max_length=300, blank=True, default="", verbose_name=_("error"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text=_("The file is deleted after this time."), verbose_name=_("expires at")
    )

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["expires_at"], name="analytics_export_expires")]

    def __str__(self) -> str:
        return f"Export {self.table}.{self.format} ({self.status})"

    @property
    def progress(self) -> float | None:
        """0..1, None while the total is not known yet."""
        if self.status == ExportStatus.DONE:
            return 1.0
        if not self.rows_total:
            return None
        return min(1.0, self.rows_done / self.rows_total)


# The task must be registered wherever the models load (a worker autodiscovers only analytics.tasks).
import analytics.tasks_exports  # noqa: E402, F401
