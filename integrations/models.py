import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from companies.tenancy import CompanyOwned
from integrations.fields import EncryptedTextField


def default_sync_interval() -> int:
    return settings.DIALIX_PBX_SYNC_INTERVAL_MINUTES


class PbxProvider(models.TextChoices):
    ONLINEPBX = "onlinepbx", _("OnlinePBX")


class OperatorChannel(models.TextChoices):
    LEFT = "left", _("Left")
    RIGHT = "right", _("Right")


# A DNS host name: labels of letters, digits and inner hyphens, joined by dots. Nothing else may reach the URL path.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\Z")
DOMAIN_ERROR = _("Enter the PBX domain only, e.g. pbx12345.onpbx.ru: letters, digits, dots and hyphens.")
BASE_URL_ERROR = _(
    "This API host is not allowed; the server's PBX host (DIALIX_ONLINEPBX_BASE_URL) is used when empty."
)


def pbx_domain_is_valid(domain: str) -> bool:
    return bool(_HOSTNAME.match(domain))


def pbx_base_url_is_allowed(url: str) -> bool:
    """A per-account API host override: http(s), no credentials, query or fragment, and a host (or host:port) listed
    in DIALIX_PBX_BASE_URL_ALLOWLIST (empty by default, so no override is allowed)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return False
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return False
    host = parts.hostname.lower()
    allowed = {entry.strip().lower() for entry in settings.DIALIX_PBX_BASE_URL_ALLOWLIST if entry.strip()}
    return host in allowed or (port is not None and f"{host}:{port}" in allowed)


class PbxAccount(CompanyOwned):
    """A company's PBX connection: credentials (encrypted), schedule, sync cursor and the last outcome."""

    provider = models.CharField(
        max_length=20, choices=PbxProvider.choices, default=PbxProvider.ONLINEPBX, verbose_name=_("provider")
    )
    domain = models.CharField(
        max_length=200, help_text=_("The PBX domain, e.g. pbx12345.onpbx.ru"), verbose_name=_("domain")
    )
    api_key = EncryptedTextField(
        help_text=_("The API key from the PBX panel (Integration → API). Stored encrypted."), verbose_name=_("api key")
    )
    api_base_url = models.URLField(
        blank=True,
        default="",
        help_text=_("Leave empty for the vendor's API host (DIALIX_ONLINEPBX_BASE_URL)."),
        verbose_name=_("api base url"),
    )
    is_enabled = models.BooleanField(default=True, help_text=_("Sync on schedule."), verbose_name=_("is enabled"))
    sync_interval_minutes = models.PositiveIntegerField(
        default=default_sync_interval,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        verbose_name=_("sync interval minutes"),
    )
    backfill_days = models.PositiveIntegerField(
        default=7,
        validators=[MaxValueValidator(90)],
        help_text=_("How far back the first sync reads."),
        verbose_name=_("backfill days"),
    )
    overlap_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(24 * 60)],
        help_text=_(
            "Each sync re-reads calls that ended this long before its cursor: the PBX may list a call a while "
            "after it ends."
        ),
        verbose_name=_("overlap minutes"),
    )
    fetch_recordings = models.BooleanField(
        default=True,
        help_text=_("Download recordings of answered calls. Off imports the call history only."),
        verbose_name=_("fetch recordings"),
    )
    operator_channel = models.CharField(
        max_length=5,
        choices=OperatorChannel.choices,
        default=OperatorChannel.LEFT,
        help_text=_("Which channel of a stereo recording is the operator."),
        verbose_name=_("operator channel"),
    )
    push_secret_hash = models.CharField(
        max_length=64, blank=True, default="", editable=False, verbose_name=_("push secret hash")
    )
    # Machine-filled state
    session_key_id = EncryptedTextField(blank=True, default="", editable=False, verbose_name=_("session key id"))
    session_key = EncryptedTextField(blank=True, default="", editable=False, verbose_name=_("session key"))
    sync_cursor = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=_("Calls that ended before this have been read."),
        verbose_name=_("sync cursor"),
    )
    lease_until = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("lease until"))
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last success at"))
    last_error = models.TextField(blank=True, default="", editable=False, verbose_name=_("last error"))
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last error at"))

    class Meta:
        verbose_name = _("PBX account")
        verbose_name_plural = _("PBX accounts")
        constraints = [models.UniqueConstraint(fields=["company"], name="integrations_pbxaccount_one_per_company")]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.domain}"

    @property
    def periodic_task_name(self) -> str:
        return f"pbx-sync-{self.company_id}"

    def clean_fields(self, exclude=None) -> None:
        # Here rather than in clean(): a form without api_base_url (everyone but superusers) excludes it, and
        # clean() cannot tell, so its error would crash the form instead of being shown.
        errors: dict[str, list[str]] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.message_dict
        exclude = set(exclude or ())
        if "domain" not in exclude and "domain" not in errors and not pbx_domain_is_valid(self.domain):
            errors["domain"] = [DOMAIN_ERROR]
        if (
            "api_base_url" not in exclude
            and "api_base_url" not in errors
            and self.api_base_url
            and not pbx_base_url_is_allowed(self.api_base_url)
        ):
            errors["api_base_url"] = [BASE_URL_ERROR]
        if errors:
            raise ValidationError(errors)


class SyncKind(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    MANUAL = "manual", _("Manual")
    PUSH = "push", _("Push")
    BACKFILL = "backfill", _("History (backfill)")


class SyncStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped (another sync was running)")


REJECTED_KEPT = 50  # a run keeps this many refused records in its list; `rejected` counts them all


class SyncRun(CompanyOwned):
    """One read of a company's PBX, so a supervisor sees that it is being read, and when and why it failed."""

    account = models.ForeignKey(PbxAccount, on_delete=models.CASCADE, related_name="runs", verbose_name=_("account"))
    kind = models.CharField(max_length=10, choices=SyncKind.choices, verbose_name=_("kind"))
    status = models.CharField(
        max_length=10, choices=SyncStatus.choices, default=SyncStatus.RUNNING, verbose_name=_("status")
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    window_from = models.DateTimeField(null=True, blank=True, verbose_name=_("window from"))
    window_to = models.DateTimeField(null=True, blank=True, verbose_name=_("window to"))
    fetched = models.PositiveIntegerField(default=0, verbose_name=_("fetched"))
    created = models.PositiveIntegerField(default=0, verbose_name=_("created"))
    updated = models.PositiveIntegerField(default=0, verbose_name=_("updated"))
    skipped = models.PositiveIntegerField(
        default=0, help_text=_("Calls read again that had not changed."), verbose_name=_("skipped")
    )
    operators_created = models.PositiveIntegerField(default=0, verbose_name=_("operators created"))
    rejected = models.PositiveIntegerField(
        default=0, help_text=_("PBX records the parser refused (skipped)."), verbose_name=_("rejected")
    )
    rejected_records = models.JSONField(
        default=list,
        blank=True,
        help_text=format_lazy(
            _("The first {kept} refused records: their uuid and why, never the PBX's whole answer."), kept=REJECTED_KEPT
        ),
        verbose_name=_("rejected records"),
    )
    # A backfill's own progress: it reads [window_from, window_to) in 7-day windows and commits each with `cursor`,
    # so a stopped one continues from there. The account's regular cursor is never touched by it.
    cursor = models.DateTimeField(
        null=True, blank=True, help_text=_("Backfill: read up to here."), verbose_name=_("cursor")
    )
    windows_total = models.PositiveIntegerField(default=0, verbose_name=_("windows total"))
    windows_done = models.PositiveIntegerField(default=0, verbose_name=_("windows done"))
    error = models.TextField(blank=True, default="", verbose_name=_("error"))

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["company", "-started_at"], name="integrations_syncrun_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} sync {self.started_at:%Y-%m-%d %H:%M} ({self.get_status_display()})"


class SttEngine(models.TextChoices):
    OFFLINE = "offline", _("Offline (Whisper on our servers)")
    OPENAI = "openai", _("OpenAI")
    UZBEKVOICE = "uzbekvoice", _("UzbekVoice")


class AnalyzerEngine(models.TextChoices):
    OFFLINE = "offline", _("Offline rules")
    OPENAI = "openai", _("OpenAI-compatible model")


class EngineSettings(CompanyOwned):
    """Which engines a company uses: speech-to-text per language, and the analyser (empty = the platform default)."""

    engine_uz = models.CharField(_("Uzbek"), max_length=12, choices=SttEngine.choices, blank=True, default="")
    engine_ru = models.CharField(_("Russian"), max_length=12, choices=SttEngine.choices, blank=True, default="")
    engine_en = models.CharField(_("English"), max_length=12, choices=SttEngine.choices, blank=True, default="")
    engine_unknown = models.CharField(
        _("Language not known in advance"),
        max_length=12,
        choices=SttEngine.choices,
        blank=True,
        default="",
        help_text=_("Used when the call's language is detected, not given (companies with several languages)."),
    )
    fallback_engine = models.CharField(
        max_length=12,
        choices=SttEngine.choices,
        default=SttEngine.OFFLINE,
        help_text=_("Used when the chosen engine is down or not configured."),
        verbose_name=_("fallback engine"),
    )
    analyzer_engine = models.CharField(
        _("Analyser"), max_length=12, choices=AnalyzerEngine.choices, blank=True, default=""
    )

    class Meta:
        verbose_name = _("engine settings")
        verbose_name_plural = _("engine settings")
        constraints = [models.UniqueConstraint(fields=["company"], name="integrations_enginesettings_one_per_company")]

    def __str__(self) -> str:
        return f"Engines of {self.company.name}"


# Webhook models live beside their services (integrations/webhooks/); imported here so they belong to this app.
# CRM models (integrations/models_crm.py); imported here so they belong to this app.
from integrations.models_crm import (  # noqa: E402, F401
    CrmConnection,
    CrmPlan,
    CrmProvider,
    CrmSyncKind,
    CrmSyncRun,
    CrmWriteBack,
)
from integrations.webhooks.models import (  # noqa: E402, F401
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
