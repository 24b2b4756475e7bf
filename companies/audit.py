"""The audit trail (issue 16): who changed a company's data, when, what and from where, and who read what matters.

Built on django-auditlog 3.4.1 rather than by hand: its signals already diff every registered model on save and
delete (JSON of old -> new values per field, masking and field exclusion built in), its middleware already carries
the request's address into every line written while the request runs, and one swappable log table (here
``companies.AuditEntry``, auditlog's own entry plus the company, an event name and an actor label) holds both
changes and accesses, so one console page, one filter set and one CSV export cover everything. django-simple-history
was the alternative: a shadow table per model is heavier and made for reverting, which an audit trail does not need;
django-pghistory ties the trail to PostgreSQL triggers (the demo runs on SQLite).

What is ours:
- ``register_audited_models`` (called from CompaniesConfig.ready): the company-owned models that matter, with their
  secrets excluded (encrypted fields never reach the trail, not even masked) and the CRM webhook URL masked.
  Machine bulk (a call's creation by a sync, a scorecard's item results written by the analyser) is not logged: the
  trail is for people's changes; a person's correction of an item is.
- ``AuditMiddleware``: auditlog's middleware without evaluating ``request.user`` up front (a token request is
  authenticated inside DRF, and reading the session user on every request would cost queries); the actor is read
  when a line is written: a person, ``token:<prefix>`` for an API token, or the label a task passes.
- ``audit_access``: one ACCESS line for a read that matters (a recording played, a transcript opened, an export
  downloaded) or a console action run. ``audit_access_once`` does the same at most once per actor, object and event
  in a window: an audio player asks for many byte ranges per play.
- ``api_token_used``: sampled per-token, per-endpoint, per-day request counters (ApiTokenUsage), kept in the cache
  and written every SAMPLE_EVERY requests, or when the token's last use is written anyway, so a token request
  normally costs no query.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from auditlog.middleware import AuditlogMiddleware
from auditlog.models import AbstractLogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.db.models.signals import pre_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from companies.models import ApiToken, ApiTokenUsage, AuditEntry, Company
from companies.models_audit import company_id_of

logger = logging.getLogger(__name__)

_request: ContextVar[Any] = ContextVar("dialix_audit_request", default=None)

SAMPLE_EVERY = 20  # token usage: one database write per this many requests of a token to an endpoint on a day
ONCE_WINDOW_SECONDS = 600  # audit_access_once: one line per actor, object and event in this window


class AuditEvent(models.TextChoices):
    RECORDING_PLAYED = "recording_played", _("Recording played")
    RECORDING_DOWNLOADED = "recording_downloaded", _("Recording downloaded")
    TRANSCRIPT_OPENED = "transcript_opened", _("Transcript opened")
    EXPORT_DOWNLOADED = "export_downloaded", _("Export downloaded")
    CALL_REANALYSED = "call_reanalysed", _("Call re-analysed")
    CALL_RETRANSCRIBED = "call_retranscribed", _("Call re-transcribed")
    SPEAKERS_SWAPPED = "speakers_swapped", _("Speakers swapped")
    CALL_DELETED = "call_deleted", _("Call deleted")
    TOKEN_CREATED = "token_created", _("API token created")
    TOKEN_REVOKED = "token_revoked", _("API token revoked")
    WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated", _("Webhook secret rotated")
    RETENTION_APPLIED = "retention_applied", _("Retention applied")
    AUDIT_EXPORTED = "audit_exported", _("Audit trail exported")


# --- Registration -----------------------------------------------------------------------------------------------

# (model label, auditlog.register keyword arguments). Encrypted fields and hashes are excluded outright.
AUDITED_MODELS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "companies.company",
        {
            "include_fields": [
                "name",
                "time_zone",
                "languages",
                "is_active",
                "review_sample_percent",
                "recording_retention_days",
                "text_retention_days",
                "pii_redacted_roles",
                "pii_send_original_to_llm",
                "require_two_factor",
            ]
        },
    ),
    ("companies.membership", {"include_fields": ["user", "company", "role"]}),
    ("companies.apitoken", {"exclude_fields": ["key_hash", "last_used_at", "updated_at"]}),
    (
        "calls.call",
        # The fields a person sets or a deletion removes; the pipeline's own (status, metrics, recording) are not
        # changes of the company's data but the product working. Not the customer's phone: a deleted call's number
        # must not live on in the trail.
        {"include_fields": ["operator", "direction", "started_at", "review_state", "reviewed_by"]},
    ),
    ("checklists.itemresult", {"include_fields": ["answer", "override_reason", "overridden_by", "overridden_at"]}),
    ("checklists.checklist", {"exclude_fields": ["updated_at"], "m2m_fields": {"operators"}}),
    ("checklists.checklistsection", {"exclude_fields": ["updated_at"]}),
    ("checklists.checklistitem", {"exclude_fields": ["updated_at"]}),
    ("checklists.checklistversion", {"exclude_fields": ["updated_at"]}),
    ("operators.operator", {"exclude_fields": ["updated_at"]}),
    (
        "integrations.pbxaccount",
        {
            "exclude_fields": [
                "api_key",
                "session_key_id",
                "session_key",
                "push_secret_hash",
                "push_secret",
                "sync_cursor",
                "lease_until",
                "last_success_at",
                "last_error",
                "last_error_at",
                "updated_at",
            ]
        },
    ),
    (
        "integrations.crmconnection",
        {
            "exclude_fields": [
                "deals_cursor",
                "stages",
                "stages_refreshed_at",
                "lease_until",
                "last_success_at",
                "last_error",
                "last_error_at",
                "updated_at",
            ],
            "mask_fields": ["webhook_url"],
        },
    ),
    ("integrations.enginesettings", {"exclude_fields": ["updated_at"]}),
    (
        "integrations.webhookendpoint",
        {"exclude_fields": ["secret", "consecutive_failures", "failing_since", "last_success_at", "updated_at"]},
    ),
)

# Rows written by machines in bulk: their creation is not a person's change (their later edits and deletion are).
_NOT_LOGGED_ON_CREATE = frozenset({"calls.call", "checklists.itemresult"})
_NOT_LOGGED_ON_DELETE = frozenset({"checklists.itemresult"})  # gone with their call, whose deletion is logged


def mask_secret(value: Any) -> str:
    """auditlog's default mask keeps half the value; a webhook URL carries its secret in the path: keep none."""
    return "••••••" if value else ""


def register_audited_models() -> None:
    """Connect auditlog to the models above (idempotent: auditlog keys its receivers by model)."""
    for label, options in AUDITED_MODELS:
        try:
            model = apps.get_model(label)
        except LookupError:  # an app not installed in this configuration
            continue
        names = {f.name for f in model._meta.get_fields()}
        kwargs = dict(options)
        for key in ("include_fields", "exclude_fields", "mask_fields"):
            if key in kwargs:
                kwargs[key] = [name for name in kwargs[key] if name in names]
        if "m2m_fields" in kwargs:
            kwargs["m2m_fields"] = {name for name in kwargs["m2m_fields"] if name in names}
        if "mask_fields" in kwargs:
            kwargs["mask_callable"] = "companies.audit.mask_secret"
        auditlog.register(model, **kwargs)
    pre_save.connect(_fill_actor, sender=AuditEntry, dispatch_uid="companies.audit.fill_actor")
    from auditlog.signals import pre_log

    pre_log.connect(_skip_machine_bulk, dispatch_uid="companies.audit.skip_machine_bulk")


def _skip_machine_bulk(sender, instance, action, **kwargs) -> bool | None:
    label = instance._meta.label_lower
    if action == AbstractLogEntry.Action.CREATE and label in _NOT_LOGGED_ON_CREATE:
        return False
    if action == AbstractLogEntry.Action.DELETE and label in _NOT_LOGGED_ON_DELETE:
        return False
    return None


# --- Actor --------------------------------------------------------------------------------------------------------


class AuditMiddleware(AuditlogMiddleware):
    """auditlog's middleware (remote address and port, correlation id) with the actor read lazily (see above)."""

    @staticmethod
    def _get_remote_addr(request):
        # Not auditlog's own (the first X-Forwarded-For entry, which any caller writes): the address the outermost
        # trusted proxy saw, as the login lockout reads it.
        from dialix.security import axes_client_ip

        return axes_client_ip(request)

    def get_extra_data(self, request):
        return {
            "remote_addr": self._get_remote_addr(request),
            "remote_port": self._get_remote_port(request),
            "actor": None,
        }

    def __call__(self, request):
        with audit_actor(request):
            return super().__call__(request)


def _actor_of(who: Any) -> tuple[Any, str]:
    """(user or None, label) for a request, a user, a TokenPrincipal or None."""
    user = getattr(who, "user", who)  # a request's user, or the thing itself
    if user is None or not getattr(user, "is_authenticated", False):
        return None, ""
    token = getattr(user, "token", None)
    if isinstance(token, ApiToken):
        return None, f"token:{token.prefix}"
    if isinstance(user, get_user_model()):
        return user, user.get_username()
    return None, str(user)[:150]


@contextlib.contextmanager
def audit_actor(who: Any) -> Iterator[None]:
    """Lines written inside (auditlog's model changes too) name `who`: a user, a request, or a label for a task
    ("system:retention"). The middleware does this for every request."""
    reset = _request.set(who)
    try:
        yield
    finally:
        _request.reset(reset)


def _fill_actor(sender, instance: AuditEntry, **kwargs) -> None:
    if instance.pk is not None or instance.actor_id is not None or instance.actor_label:
        return
    who = _request.get()
    if who is None:
        return
    if isinstance(who, str):
        instance.actor_label = who[:150]
        return
    user, label = _actor_of(who)
    instance.actor, instance.actor_label = user, label
    if user is not None:
        instance.actor_email = getattr(user, "email", None) or None


def _remote_addr(request: Any) -> tuple[str | None, int | None]:
    raw = getattr(request, "_request", request)  # a DRF Request wraps the HttpRequest
    if not hasattr(raw, "META"):
        return None, None
    return AuditMiddleware._get_remote_addr(raw), AuditlogMiddleware._get_remote_port(raw)


# --- Access lines ------------------------------------------------------------------------------------------------


def audit_access(
    request_or_actor: Any,
    obj: models.Model | None,
    action: str,
    details: dict | None = None,
    *,
    company: Company | None = None,
    actor_label: str = "",
) -> AuditEntry:
    """Write one ACCESS line: `action` (an AuditEvent value) done to `obj` (None: the company itself) by the
    request's user, a user, or nobody (a task: give `actor_label`, e.g. "system:retention").

    `details` is stored as the line's additional data: small and JSON-able, never a secret, a transcript or a full
    phone number. The line belongs to obj's company (or `company`, required when obj is None)."""
    target = obj if obj is not None else company
    if target is None:
        raise ValueError("audit_access needs an object or a company")
    company_id = company.pk if company is not None else company_id_of(target)
    user, label = _actor_of(request_or_actor)
    remote_addr, remote_port = _remote_addr(request_or_actor)
    return AuditEntry.objects.log_create(
        target,
        force_log=True,
        action=AbstractLogEntry.Action.ACCESS,
        changes=None,
        company_id=company_id,
        event=str(action),
        actor=user,
        actor_email=(getattr(user, "email", None) or None) if user is not None else None,
        actor_label=actor_label or label,
        remote_addr=remote_addr,
        remote_port=remote_port,
        additional_data=details or None,
        serialized_data=None,
    )


def audit_access_once(
    request_or_actor: Any, obj: models.Model, action: str, details: dict | None = None, *, actor_label: str = ""
) -> AuditEntry | None:
    """audit_access, at most once per actor, object and event in ONCE_WINDOW_SECONDS (a player's many byte-range
    requests of one play, a page reloaded). Returns None when it was already written in the window."""
    _user, label = _actor_of(request_or_actor)
    remote_addr, _port = _remote_addr(request_or_actor)
    who = f"{actor_label or label}@{remote_addr or '-'}"
    digest = hashlib.sha256(f"{who}|{obj._meta.label}|{obj.pk}|{action}".encode()).hexdigest()[:32]
    if not cache.add(f"dialix:audit-once:{digest}", 1, timeout=ONCE_WINDOW_SECONDS):
        return None
    return audit_access(request_or_actor, obj, action, details, actor_label=actor_label)


def audit_entry_list(*, company: Company | None) -> models.QuerySet[AuditEntry]:
    """The company's trail, newest first (every company's for staff: company=None)."""
    qs = AuditEntry.objects.select_related("content_type", "actor", "company")
    if company is not None:
        qs = qs.filter(company=company)
    return qs.order_by("-timestamp", "-id")


# --- API token usage ---------------------------------------------------------------------------------------------


def _usage_key(token_id: int, endpoint: str, day) -> str:
    digest = hashlib.sha256(endpoint.encode()).hexdigest()[:16]
    return f"dialix:token-usage:{token_id}:{day:%Y%m%d}:{digest}"


def api_token_used(*, token: ApiToken, endpoint: str, flush: bool = False) -> None:
    """Count one request of `token` to `endpoint` ("GET api/v1/calls/<int:pk>/"). The count lives in the cache and
    reaches ApiTokenUsage every SAMPLE_EVERY requests, or at once when `flush` (the token's last use is being written
    anyway). Counts are therefore sampled: at most SAMPLE_EVERY - 1 requests a day per endpoint are not yet written."""
    day = timezone.localdate()
    key = _usage_key(token.pk, endpoint, day)
    cache.add(key, 0, timeout=2 * 86400)
    try:
        pending = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=2 * 86400)
        pending = 1
    if pending < SAMPLE_EVERY and not flush:
        return
    try:
        cache.decr(key, pending)
    except ValueError:
        pass
    _usage_add(token=token, endpoint=endpoint[:200], day=day, count=pending)


def _usage_add(*, token: ApiToken, endpoint: str, day, count: int) -> None:
    rows = ApiTokenUsage.objects.filter(token=token, endpoint=endpoint, day=day)
    if rows.update(count=F("count") + count):
        return
    try:
        with transaction.atomic():
            ApiTokenUsage.objects.create(
                company_id=token.company_id, token=token, endpoint=endpoint, day=day, count=count
            )
    except IntegrityError:  # another process created the day's row first
        rows.update(count=F("count") + count)


def api_token_usage_list(*, company: Company) -> models.QuerySet[ApiTokenUsage]:
    return ApiTokenUsage.objects.for_company(company).select_related("token").order_by("-day", "token_id", "endpoint")
