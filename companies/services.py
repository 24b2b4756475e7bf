import hashlib
import logging
import secrets
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext, gettext_lazy

from companies.api_auth import touch_last_used
from companies.models import ApiToken, Company, Membership, Role, TokenScope
from companies.roles import role_uses_admin
from dialix.errors import DialixError

User = get_user_model()
logger = logging.getLogger(__name__)
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


class PeopleError(DialixError):
    code = "people_invalid"
    default_message = gettext_lazy("This change to the company's people is not allowed.")


def _owners_left(*, company: Company, without: Membership) -> bool:
    return (
        Membership.objects.filter(company=company, role=Role.OWNER, user__is_active=True)
        .exclude(pk=without.pk)
        .exists()
    )


@transaction.atomic
def person_add(*, company: Company, name: str, email: str, role: str) -> tuple[Membership, str]:
    """An owner adds a person: a login named by their email, with no password yet. Returns the membership and the
    path of a one-time set-password link (Django's password-reset token: valid until used or PASSWORD_RESET_TIMEOUT,
    and void once a password is set). Show the link once; it is not stored."""
    email = User.objects.normalize_email(email.strip()).lower()
    if not email or "@" not in email:
        message = gettext("Give the person's email.")
        raise PeopleError(message, details={"email": [message]})
    if User.objects.filter(username__iexact=email).exists() or User.objects.filter(email__iexact=email).exists():
        message = gettext("A login with this email exists already.")
        raise PeopleError(message, details={"email": [message]})
    if role not in Role.values:
        message = gettext("Unknown role %(role)s.") % {"role": repr(role)}
        raise PeopleError(message, details={"role": [message]})
    membership = member_create(company=company, username=email, role=role, email=email, name=name.strip())
    logger.info("person_added", extra={"company_id": company.pk, "user_id": membership.user_id, "role": role})
    return membership, set_password_path(user=membership.user)


def set_password_path(*, user) -> str:
    """The path of a one-time link that lets `user` choose a password (and so log in)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("set_password", kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)})


@transaction.atomic
def member_role_change(*, company: Company, membership_id: int, role: str) -> Membership:
    """Changes a person's role; the company always keeps an active owner. Owners and supervisors are staff."""
    if role not in Role.values:
        raise PeopleError(gettext("Unknown role %(role)s.") % {"role": repr(role)})
    membership = Membership.objects.select_for_update().select_related("user").get(company=company, pk=membership_id)
    if membership.role == Role.OWNER and role != Role.OWNER and not _owners_left(company=company, without=membership):
        raise PeopleError(gettext("The company needs an owner: make someone else owner first."))
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    user = membership.user
    if user.is_staff != role_uses_admin(role):
        user.is_staff = role_uses_admin(role)
        user.save(update_fields=["is_staff"])
    logger.info("member_role_changed", extra={"company_id": company.pk, "user_id": user.pk, "role": role})
    return membership


@transaction.atomic
def member_set_active(*, company: Company, membership_id: int, active: bool, by=None) -> Membership:
    """Deactivates a person (they can no longer log in; their history stays) or lets them back in."""
    membership = Membership.objects.select_for_update().select_related("user").get(company=company, pk=membership_id)
    user = membership.user
    if not active:
        if by is not None and user.pk == by.pk:
            raise PeopleError(gettext("You cannot deactivate yourself."))
        if membership.role == Role.OWNER and not _owners_left(company=company, without=membership):
            raise PeopleError(gettext("The company needs an active owner."))
    if user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
    logger.info("member_active_set", extra={"company_id": company.pk, "user_id": user.pk, "active": active})
    return membership


def company_review_sample_set(*, company: Company, percent: int) -> Company:
    """The share of each operator's calls put in the review queue at random (0..100). ValueError when outside."""
    if not 0 <= percent <= 100:
        raise ValueError(percent)
    company.review_sample_percent = percent
    company.save(update_fields=["review_sample_percent", "updated_at"])
    return company


class TokenInvalid(DialixError):
    code, http_status = "invalid", 400


def api_token_create(
    *,
    company: Company,
    name: str,
    created_by=None,
    scope: str = TokenScope.WRITE,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Returns the token row and the raw secret. The secret is not stored: show it once.

    `scope` defaults to write for code callers (the demo, tests) as before scopes existed; the console asks."""
    if scope not in TokenScope.values:
        raise TokenInvalid(details={"scope": [gettext("Choose one of %(scopes)s.") % {"scopes": TokenScope.values}]})
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenInvalid(details={"expires_at": [gettext("Choose a time in the future.")]})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        company=company,
        name=name,
        prefix=raw[:12],
        key_hash=_hash_token(raw),
        created_by=created_by,
        scope=scope,
        expires_at=expires_at,
    )
    logger.info("api_token_created", extra={"company_id": company.pk, "token_id": token.pk, "scope": scope})
    return token, raw


def api_token_revoke(*, company: Company, token_id: int) -> ApiToken:
    token = ApiToken.objects.for_company(company).get(pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
    return token


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The active token for a raw secret, with its company; None when unknown, revoked, expired or the company is
    inactive."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("company")
        .filter(key_hash=_hash_token(raw), revoked_at__isnull=True, company__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .first()
    )
    if token is not None:
        touch_last_used(token)
    return token
