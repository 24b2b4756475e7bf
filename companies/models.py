import zoneinfo

from axes.models import AccessAttempt
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from companies.tenancy import CompanyOwned, TimeStamped

LANGUAGES = [("uz", _("Uzbek")), ("ru", _("Russian")), ("en", _("English"))]
LANGUAGE_CODES = [code for code, _ in LANGUAGES]


def validate_languages(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(_("Choose at least one language."))
    unknown = [code for code in value if code not in LANGUAGE_CODES]
    if unknown:
        raise ValidationError(
            _("Unknown language(s) %(unknown)s; use %(known)s."),
            params={"unknown": ", ".join(map(str, unknown)), "known": ", ".join(LANGUAGE_CODES)},
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("Each language once."))


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a time zone (e.g. Asia/Tashkent)."), params={"value": value})


PII_ROLES = ("owner", "supervisor", "analyst", "integrator")


def default_pii_redacted_roles() -> list[str]:
    return ["analyst"]


def validate_pii_roles(value: object) -> None:
    if not isinstance(value, list) or any(role not in PII_ROLES for role in value):
        raise ValidationError(_("Choose roles among %(known)s."), params={"known": ", ".join(PII_ROLES)})


class Company(TimeStamped):
    name = models.CharField(max_length=200, verbose_name=_("name"))
    slug = models.SlugField(max_length=60, unique=True, verbose_name=_("slug"))
    time_zone = models.CharField(
        max_length=64, default="Asia/Tashkent", validators=[validate_time_zone], verbose_name=_("time zone")
    )
    languages = models.JSONField(
        default=list,
        validators=[validate_languages],
        help_text=_("Languages the calls are in: any of uz, ru, en."),
        verbose_name=_("languages"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    review_sample_percent = models.PositiveSmallIntegerField(
        default=5,
        validators=[MaxValueValidator(100)],
        help_text=_("Share of each operator's calls per week put in the review queue at random, 0..100."),
        verbose_name=_("review sample percent"),
    )
    # Two-factor (issue 16): owners and supervisors must confirm a TOTP code after the password (dialix.security).
    require_two_factor = models.BooleanField(
        default=False,
        help_text=_("Owners and supervisors must enter a code from an authenticator app after their password."),
        verbose_name=_("require two-factor login"),
    )
    # PII redaction (issue 16): who sees [CARD] instead of the number, and whether a cloud LLM gets the original.
    pii_redacted_roles = models.JSONField(
        default=default_pii_redacted_roles,
        blank=True,
        validators=[validate_pii_roles],
        help_text=_(
            "Roles that see card, phone, passport, PINFL numbers and e-mails as [CARD], [PHONE]… "
            "(any of owner, supervisor, analyst, integrator)."
        ),
        verbose_name=_("roles that see redacted text"),
    )
    pii_send_original_to_llm = models.BooleanField(
        default=False,
        help_text=_(
            "Off: card, phone, passport, PINFL numbers and e-mails are replaced by labels before the "
            "transcript goes to a cloud LLM. Turn on only for an LLM on your own premises."
        ),
        verbose_name=_("send original text to the LLM"),
    )
    # Retention (issue 16): applied daily by calls.tasks.calls_retention_task; empty keeps forever.
    recording_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Delete a call's recording this many days after the call (e.g. 90); empty: keep."),
        verbose_name=_("recording retention days"),
    )
    text_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "Delete a call's transcript and the analysis' texts this many days after the call (e.g. 730); "
            "scores and figures stay. Empty: keep."
        ),
        verbose_name=_("text retention days"),
    )

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    SUPERVISOR = "supervisor", _("Supervisor")
    ANALYST = "analyst", _("Analyst")
    INTEGRATOR = "integrator", _("Integrator")


class Membership(TimeStamped):
    """A person belongs to exactly one company, with one role."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership", verbose_name=_("user")
    )
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("company")
    )
    role = models.CharField(max_length=20, choices=Role.choices, verbose_name=_("role"))

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["company", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.company})"


class TokenScope(models.TextChoices):
    READ = "read", _("Read: GET only")
    WRITE = "write", _("Write: read, create, change and run actions")


class ApiToken(CompanyOwned):
    """A company's API credential. Only a SHA-256 of the secret is stored; the secret is shown once at creation."""

    name = models.CharField(
        max_length=100, help_text=_("What uses this token, e.g. 'Bitrix24 connector'."), verbose_name=_("name")
    )
    scope = models.CharField(
        max_length=5,
        choices=TokenScope.choices,
        default=TokenScope.READ,
        help_text=_("Read tokens can only GET; actions and changes need a write token."),
        verbose_name=_("scope"),
    )
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("The token stops working at this time; empty: until revoked."),
        verbose_name=_("expires at"),
    )
    prefix = models.CharField(
        max_length=12, editable=False, help_text=_("First characters, to recognise a token."), verbose_name=_("prefix")
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("key hash"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("revoked at"))

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.WRITE


class UserPreference(models.Model):
    """What one person chose for themselves, kept with the person so it follows them to any browser (issue 12): the
    console's language. Superusers have one too; a member without a row sees the browser's or the default language."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference", verbose_name=_("user")
    )
    language = models.CharField(max_length=10, blank=True, choices=settings.LANGUAGES, verbose_name=_("language"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return f"{self.user}: {self.language or '-'}"


class LoginLockout(AccessAttempt):
    """django-axes' failed-login record (one per username + address) as the console lists it: an owner sees their
    people's and unlocks them (companies.admin.LoginLockoutAdmin)."""

    class Meta:
        proxy = True
        verbose_name = _("login lockout")
        verbose_name_plural = _("login lockouts")


# The audit trail (issue 16): imported here so Django finds its models.
from companies.models_audit import ApiTokenUsage, AuditEntry  # noqa: E402, F401
