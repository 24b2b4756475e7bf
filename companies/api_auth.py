"""API authentication by per-company tokens: `Authorization: Bearer <token>` (or `Token <token>`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.settings import api_settings

from companies.models import ApiToken, Company
from companies.tenancy import company_for
from dialix.security import client_ip, failure_record, failure_wait_seconds

logger = logging.getLogger(__name__)

LAST_USED_RESOLUTION_SECONDS = 300  # write last_used_at at most every 5 minutes, not on every request


@dataclass(eq=False)
class TokenPrincipal:
    """The request's user when it came with an API token: acts for the token's company, never logs into pages."""

    token: ApiToken
    company: Company
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    pk: None = None
    id: None = None

    @property
    def username(self) -> str:
        return f"token:{self.token.prefix}"

    @property
    def scope(self) -> str:
        """ "read" or "write" (companies.models.TokenScope)."""
        return self.token.scope

    @property
    def can_write(self) -> bool:
        """A write token: may call actions and change data. A read token may only use safe methods."""
        return self.token.can_write

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def __str__(self) -> str:
        return self.username


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <token>'.")
        # Wrong tokens from one address are counted; past the limit every token from there waits (429), the right
        # one too, so guessing gains nothing (issue 16). Checked before the token is looked at.
        ip = client_ip(request)
        wait = failure_wait_seconds(scope="api_token", ident=ip, limit=settings.DIALIX_TOKEN_FAILURES_PER_MINUTE)
        if wait:
            raise exceptions.Throttled(wait=wait, detail="Too many wrong API tokens from your address.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            failure_record(scope="api_token", ident=ip)
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        from companies.services import api_token_authenticate

        token = api_token_authenticate(raw=raw)
        if token is None:
            failure_record(scope="api_token", ident=ip)
            logger.info("api_token_rejected", extra={"client_ip": ip})
            raise exceptions.AuthenticationFailed("Invalid, revoked or unknown API token.")
        _count_use(request, token)
        return TokenPrincipal(token=token, company=token.company), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Declares the token in the OpenAPI schema as HTTP Bearer, so Swagger UI's Authorize offers it.

    Defined beside the authentication class: loading the class (as DRF does for the schema) registers this too."""

    target_class = ApiTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A company API token (owner: console → API tokens): `Authorization: Bearer <token>`.",
        }


class HasCompany(permissions.BasePermission):
    """Every API call acts for one company: a token's, or a logged-in member's (not an integrator-less superuser)."""

    message = "Your account does not belong to an active company."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.user, TokenPrincipal):
            return True
        try:
            company_for(request)
        except PermissionDenied:  # answered as this permission's 403 body
            return False
        return True


class TokenScopeAllows(permissions.BasePermission):
    """A read-scope token may only GET (HEAD, OPTIONS): every other method, on every API view that keeps the default
    permissions, is refused here, whatever the view's own permissions say. Sessions are left to the views."""

    message = "This API token is read-only: actions and changes need a write token."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if request.method in permissions.SAFE_METHODS or not isinstance(user, TokenPrincipal):
            return True
        return user.can_write


class ApiTokenRateThrottle(throttling.SimpleRateThrottle):
    """Requests per token, counted in the shared cache (Redis in production), so the limit holds across every web
    process. Rate: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_token"]. Sessions (people in the console) are not
    limited here."""

    scope = "api_token"

    def get_rate(self) -> str | None:
        # Read at each request, not at import as SimpleRateThrottle does, so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.user, TokenPrincipal):
            return None
        token = request.user.token
        # The hash fragment keeps keys apart when two databases (test runs, staging) share one cache.
        return self.cache_format % {"scope": self.scope, "ident": f"{token.pk}-{token.key_hash[:12]}"}


class CompanyRateThrottle(throttling.SimpleRateThrottle):
    """Requests of one kind (`scope`: "upload") per company, whoever sends them (every token, every person), in
    the shared cache. Rate: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]; 429 with Retry-After."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str | None:
        try:
            company = company_for(request)  # cached on the request by the HasCompany permission: no query
        except PermissionDenied:
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"company-{company.pk}-{company.slug}"}


class KeyedRateThrottle(CompanyRateThrottle):
    """The same limit keyed by something the view found itself (the PBX account a push belongs to)."""

    def __init__(self, scope: str, ident: str) -> None:
        self.ident = ident
        super().__init__(scope)

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def touch_last_used(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        token._dialix_last_used_written = True  # the usage counters flush with this write (_count_use)


def _count_use(request, token: ApiToken) -> None:
    """The audit trail's sampled count of this token's requests to this endpoint (companies.audit.api_token_used)."""
    from companies.audit import api_token_used

    match = getattr(request._request, "resolver_match", None)
    route = match.route if match is not None else request._request.path
    api_token_used(
        token=token,
        endpoint=f"{request.method} {route}",
        flush=getattr(token, "_dialix_last_used_written", False),
    )
