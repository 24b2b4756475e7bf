import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models

from companies.tenancy import CompanyOwned, TimeStamped

LANGUAGES = [("uz", "Uzbek"), ("ru", "Russian"), ("en", "English")]
LANGUAGE_CODES = [code for code, _ in LANGUAGES]


def validate_languages(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one language.")
    unknown = [code for code in value if code not in LANGUAGE_CODES]
    if unknown:
        raise ValidationError(f"Unknown language(s) {unknown}; use {LANGUAGE_CODES}.")
    if len(set(value)) != len(value):
        raise ValidationError("Each language once.")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone (e.g. Asia/Tashkent).")


class Company(TimeStamped):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="Asia/Tashkent", validators=[validate_time_zone])
    languages = models.JSONField(
        default=list, validators=[validate_languages], help_text="Languages the calls are in: any of uz, ru, en."
    )
    is_active = models.BooleanField(default=True)
    review_sample_percent = models.PositiveSmallIntegerField(
        default=5,
        validators=[MaxValueValidator(100)],
        help_text="Share of each operator's calls per week put in the review queue at random, 0..100.",
    )

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    SUPERVISOR = "supervisor", "Supervisor"
    ANALYST = "analyst", "Analyst"
    INTEGRATOR = "integrator", "Integrator"


class Membership(TimeStamped):
    """A person belongs to exactly one company, with one role."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        ordering = ["company", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.company})"


class TokenScope(models.TextChoices):
    READ = "read", "Read: GET only"
    WRITE = "write", "Write: read, create, change and run actions"


class ApiToken(CompanyOwned):
    """A company's API credential. Only a SHA-256 of the secret is stored; the secret is shown once at creation."""

    name = models.CharField(max_length=100, help_text="What uses this token, e.g. 'Bitrix24 connector'.")
    scope = models.CharField(
        max_length=5,
        choices=TokenScope.choices,
        default=TokenScope.READ,
        help_text="Read tokens can only GET; actions and changes need a write token.",
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="The token stops working at this time; empty: until revoked."
    )
    prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise a token.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

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

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    language = models.CharField(max_length=10, blank=True, choices=settings.LANGUAGES)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user}: {self.language or '-'}"
