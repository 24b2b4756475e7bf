"""The CRM write-back outbox (issue 14): one row per call, written in the transaction of the analysis (or the
supervisor's correction) that changes what the CRM should show, and delivered by a task on the ``crm`` queue.

Exactly once per call and analysis version: ``version`` counts the analyses and corrections to write,
``written_version`` the last one the CRM has; a delivery first claims the row (one conditional UPDATE), so two
workers or a retry never write the same version twice; the CRM's record id is kept and every later version updates
that same record. A worker that dies after the CRM stored the record but before its id was saved leaves
``in_flight_version`` set: the next delivery looks the record up by the marker every text carries before adding one.
Imported at the end of calls.models, so the model belongs to the calls app."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from companies.tenancy import CompanyOwned


class WriteBackState(models.TextChoices):
    PENDING = "pending", _("Waiting to be written")
    WRITTEN = "written", _("Written")
    SKIPPED = "skipped", _("Nothing to write (no CRM match, or write-back off)")
    FAILED = "failed", _("The CRM refused it")


class CrmWriteBack(CompanyOwned):
    call = models.OneToOneField(
        "calls.Call", on_delete=models.CASCADE, related_name="crm_write_back", verbose_name=_("call")
    )
    state = models.CharField(
        max_length=10, choices=WriteBackState.choices, default=WriteBackState.PENDING, verbose_name=_("state")
    )
    version = models.PositiveIntegerField(
        default=1, help_text=_("Analyses and corrections of the call to write."), verbose_name=_("version")
    )
    written_version = models.PositiveIntegerField(
        default=0, help_text=_("The version the CRM shows."), verbose_name=_("written version")
    )
    in_flight_version = models.PositiveIntegerField(
        default=0,
        help_text=_("A write sent to the CRM whose answer was not saved yet (0: none)."),
        verbose_name=_("in-flight version"),
    )
    written_kind = models.CharField(max_length=10, blank=True, default="", verbose_name=_("written as"))
    entity_kind = models.CharField(max_length=10, blank=True, default="", verbose_name=_("CRM entity"))
    entity_id = models.CharField(max_length=32, blank=True, default="", verbose_name=_("CRM entity id"))
    written_id = models.CharField(max_length=32, blank=True, default="", verbose_name=_("CRM record id"))
    written_at = models.DateTimeField(null=True, blank=True, verbose_name=_("written at"))
    claim_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    claim_until = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("claimed until"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.TextField(blank=True, default="", verbose_name=_("last error"))

    class Meta:
        verbose_name = _("CRM write-back")
        verbose_name_plural = _("CRM write-backs")
        indexes = [
            # The sweep of deliveries still owed (a lost message, a stopped connection that came back).
            models.Index(
                fields=["company", "updated_at"],
                name="calls_crmwriteback_pending",
                condition=models.Q(state="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"CRM write-back of call {self.call_id} (v{self.written_version}/{self.version})"
