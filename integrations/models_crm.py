"""A company's CRM connection and the record of each poll (issue 14). Imported by integrations.models, so the
models belong to the integrations app."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from companies.tenancy import CompanyOwned
from integrations.fields import EncryptedTextField


class CrmProvider(models.TextChoices):
    BITRIX24 = "bitrix24", _("Bitrix24")


class CrmWriteBack(models.TextChoices):
    COMMENT = "comment", _("Timeline comment")
    ACTIVITY = "activity", _("Call activity")
    NOTHING = "nothing", _("Nothing")


class CrmPlan(models.TextChoices):
    STANDARD = "standard", _("Standard (2 requests/s, burst 50)")
    ENTERPRISE = "enterprise", _("Enterprise (5 requests/s, burst 250)")


PLAN_LIMITS = {CrmPlan.STANDARD: (2.0, 50), CrmPlan.ENTERPRISE: (5.0, 250)}


class CrmConnection(CompanyOwned):
    """One CRM portal per company: the incoming-webhook URL (encrypted, shown masked), what is written back, the
    portal's limits, the deal poll's cursor, the stage-name cache and why the connection stopped, if it did."""

    provider = models.CharField(
        max_length=20, choices=CrmProvider.choices, default=CrmProvider.BITRIX24, verbose_name=_("provider")
    )
    webhook_url = EncryptedTextField(
        help_text=_(
            "The portal's incoming webhook, e.g. https://acme.bitrix24.kz/rest/1/k3x9q2w8e7r6t5y4/ "
            "(Bitrix24 → Developer resources → Other → Incoming webhook, with the crm scope). Stored encrypted."
        ),
        verbose_name=_("webhook URL"),
    )
    is_enabled = models.BooleanField(
        default=True, help_text=_("Link calls, write results back and poll deals."), verbose_name=_("is enabled")
    )
    write_back = models.CharField(
        max_length=10, choices=CrmWriteBack.choices, default=CrmWriteBack.COMMENT, verbose_name=_("write back")
    )
    write_language = models.CharField(
        max_length=5,
        choices=[("uz", "Oʻzbekcha"), ("ru", "Русский"), ("en", "English")],
        default="uz",
        help_text=_("The language of what is written into the CRM."),
        verbose_name=_("write-back language"),
    )
    plan = models.CharField(max_length=12, choices=CrmPlan.choices, default=CrmPlan.STANDARD, verbose_name=_("plan"))
    poll_interval_minutes = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        verbose_name=_("poll interval minutes"),
    )
    # Machine-filled state
    deals_cursor = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=_("Deals modified up to here have been read."),
        verbose_name=_("deals cursor"),
    )
    stages = models.JSONField(default=list, blank=True, editable=False, verbose_name=_("stage names"))
    stages_refreshed_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("stages refreshed at")
    )
    lease_until = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("lease until"))
    stopped_reason = models.TextField(
        blank=True,
        default="",
        editable=False,
        help_text=_("Why the portal refused us; the connection stays stopped until it is saved again."),
        verbose_name=_("stopped because"),
    )
    stopped_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("stopped at"))
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last success at"))
    last_error = models.TextField(blank=True, default="", editable=False, verbose_name=_("last error"))
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last error at"))

    class Meta:
        verbose_name = _("CRM connection")
        verbose_name_plural = _("CRM connections")
        constraints = [models.UniqueConstraint(fields=["company"], name="integrations_crmconnection_one_per_company")]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} ({self.company_id})"

    @property
    def rate(self) -> tuple[float, int]:
        """Requests per second and burst of the portal's leaky bucket."""
        return PLAN_LIMITS[CrmPlan(self.plan)]


class CrmSyncKind(models.TextChoices):
    POLL = "poll", _("Deal poll")
    STAGES = "stages", _("Stage names")
    LINK = "link", _("Linking calls")


class CrmSyncRun(CompanyOwned):
    """One poll of a portal (deals changed since the cursor, or the stage names), listed in the console."""

    connection = models.ForeignKey(
        CrmConnection, on_delete=models.CASCADE, related_name="runs", verbose_name=_("connection")
    )
    kind = models.CharField(max_length=10, choices=CrmSyncKind.choices, verbose_name=_("kind"))
    status = models.CharField(max_length=10, default="running", verbose_name=_("status"))  # integrations.SyncStatus
    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    requests = models.PositiveIntegerField(default=0, verbose_name=_("requests"))
    deals_read = models.PositiveIntegerField(default=0, verbose_name=_("deals read"))
    calls_updated = models.PositiveIntegerField(default=0, verbose_name=_("calls updated"))
    error = models.TextField(blank=True, default="", verbose_name=_("error"))

    class Meta:
        verbose_name = _("CRM sync run")
        verbose_name_plural = _("CRM sync runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["company", "-started_at"], name="integrations_crmrun_recent")]
