"""The audit trail's rows (issue 16): django-auditlog's log entry with the company it belongs to, and the sampled
API-token usage counters. Imported by companies/models.py so Django finds them; the logic is in companies/audit.py."""

from __future__ import annotations

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from companies.tenancy import CompanyOwned


def company_id_of(instance: models.Model) -> int | None:
    """The company an audited row belongs to: itself (a Company), its `company`, or None (a user, a global row)."""
    if instance._meta.label == "companies.Company":
        return instance.pk
    return getattr(instance, "company_id", None)


class AuditEntryManager(LogEntryManager):
    def log_create(self, instance, force_log: bool = False, **kwargs):
        # Every line carries its company (the console filters the trail by it) and a stable event name.
        kwargs.setdefault("company_id", company_id_of(instance))
        if "event" not in kwargs:
            kwargs["event"] = _model_event(instance, kwargs.get("action"), kwargs.get("changes"))
        return super().log_create(instance, force_log=force_log, **kwargs)

    def log_m2m_changes(self, changed_queryset, instance, operation, field_name, **kwargs):
        kwargs.setdefault("company_id", company_id_of(instance))
        kwargs.setdefault("event", f"{instance._meta.model_name}_{field_name}_changed")
        return super().log_m2m_changes(changed_queryset, instance, operation, field_name, **kwargs)


def _model_event(instance: models.Model, action: int | None, changes) -> str:
    """`<model>_created|changed|deleted`, with names of their own for the token events owners look for."""
    name = instance._meta.model_name
    changes = changes if isinstance(changes, dict) else {}
    if name == "apitoken" and action == AbstractLogEntry.Action.CREATE:
        return "token_created"
    if name == "apitoken" and action == AbstractLogEntry.Action.UPDATE and "revoked_at" in changes:
        return "token_revoked"
    if name == "itemresult" and action == AbstractLogEntry.Action.UPDATE:
        return "item_corrected"
    verb = {
        AbstractLogEntry.Action.CREATE: "created",
        AbstractLogEntry.Action.UPDATE: "changed",
        AbstractLogEntry.Action.DELETE: "deleted",
    }.get(action, "accessed")
    return f"{name}_{verb}"


class AuditEntry(AbstractLogEntry):
    """One line of a company's audit trail: a change of a registered model (auditlog's signals) or an access
    (companies.audit.audit_access). Never changed or deleted from the console."""

    # No database constraint: the line outlives the company's rows it describes (even the company itself).
    company = models.ForeignKey(
        "companies.Company",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("company"),
    )
    event = models.CharField(max_length=64, blank=True, default="", verbose_name=_("event"))
    actor_label = models.CharField(
        max_length=150,
        blank=True,
        default="",
        help_text=_("The person's username, token:<prefix> for an API token, or the task (system:retention)."),
        verbose_name=_("actor"),
    )

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        indexes = [
            models.Index(fields=["company", "-timestamp"], name="companies_auditentry_co_time"),
            models.Index(fields=["company", "event", "-timestamp"], name="companies_auditentry_co_event"),
        ]


class ApiTokenUsage(CompanyOwned):
    """How often a token called an endpoint on a day. Sampled: companies.audit.api_token_used adds SAMPLE_EVERY at
    a time after SAMPLE_EVERY calls counted in the cache (the first call of a day is written at once)."""

    token = models.ForeignKey(
        "companies.ApiToken", on_delete=models.CASCADE, related_name="usage", verbose_name=_("API token")
    )
    endpoint = models.CharField(max_length=200, help_text=_("Method and URL pattern."), verbose_name=_("endpoint"))
    day = models.DateField(verbose_name=_("day"))
    count = models.PositiveIntegerField(default=0, verbose_name=_("requests (sampled)"))

    class Meta:
        verbose_name = _("API token usage")
        verbose_name_plural = _("API token usage")
        ordering = ["-day", "token", "endpoint"]
        constraints = [
            models.UniqueConstraint(fields=["token", "endpoint", "day"], name="companies_apitokenusage_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.token_id} {self.endpoint} {self.day}: {self.count}"
