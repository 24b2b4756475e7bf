import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from companies.api_auth import touch_last_used
from companies.models import ApiToken, Company, Membership, Role
from companies.roles import role_uses_admin

User = get_user_model()
TOKEN_PREFIX = "dlx_"  # noqa: S105 - a public prefix, not a secret


def _hash_token(raw: str) -> str:
    # A 240-bit random secret needs no salt or slow hash: SHA-256 cannot be reversed or brute-forced at that entropy.
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def company_create(*, name: str, slug: str, languages: list[str], time_zone: str = "Asia/Tashkent") -> Company:
    company = Company(name=name, slug=slug, languages=languages, time_zone=time_zone)
    company.full_clean()
    company.save()
    return company


@transaction.atomic
def member_create(
    *, company: Company, username: str, role: str, password: str | None = None, email: str = "", name: str = ""
) -> Membership:
    """Creates a login for a person of the company. Owners and supervisors are staff (they use the console)."""
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}")
    first, _, last = name.partition(" ")
    user = User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first,
        last_name=last,
        is_staff=role_uses_admin(role),  # the admin login form lets only staff in
    )
    return Membership.objects.create(user=user, company=company, role=role)


def api_token_create(*, company: Company, name: str, created_by=None) -> tuple[ApiToken, str]:
    """Returns the token row and the raw secret. The secret is not stored: show it once."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        company=company, name=name, prefix=raw[:12], key_hash=_hash_token(raw), created_by=created_by
    )
    return token, raw


def api_token_revoke(*, company: Company, token_id: int) -> ApiToken:
    token = ApiToken.objects.for_company(company).get(pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
    return token


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The active token for a raw secret, with its company; None when unknown, revoked or the company is inactive."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("company")
        .filter(key_hash=_hash_token(raw), revoked_at__isnull=True, company__is_active=True)
        .first()
    )
    if token is not None:
        touch_last_used(token)
    return token
