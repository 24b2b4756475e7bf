"""The doors (issue 16): login lockout, failure throttles, two-factor, idle sessions, security headers.

Maintained pieces where the ecosystem has them, each for a reason:

- **django-axes 8.3** (login lockout): attempts are rows in our PostgreSQL (``AccessAttempt``), keyed by the pair
  username + client address, so a lockout holds across every web process and survives a restart, and the console can
  list and clear them (companies.admin ``LoginLockoutAdmin``). Its backend refuses a locked pair before the password is
  checked, so the right password fails too until the pair is unlocked or the cool-off passes. Hand-written counters in
  the cache would lose lockouts on a cache flush and give the console nothing to show.
- **django-otp 1.7** (TOTP two-factor): RFC 6238 devices with drift tolerance, replay protection (a code works once)
  and throttling of wrong codes built in; ``OTPMiddleware`` gives ``request.user.is_verified()``. We add only the
  policy (who must, from the company's setting) and the two pages (enrol with a QR code, enter a code).
- **segno 1.6** (the enrolment QR code): pure Python, renders SVG markup with attributes only (no ``style=``), so the
  page stays inside the CSP.
- **django-csp 4.0** (Content-Security-Policy): one dict in settings, per-view overrides (``csp_update``) for the one
  third-party page that needs inline styles (Swagger UI, below). Django's own ``SecurityMiddleware`` does HSTS, the
  HTTPS redirect, nosniff and the referrer policy; Permissions-Policy is one header, set here.
- Throttles use DRF's throttling (``companies.api_auth``) and, for counting *failures* before any authentication
  (wrong tokens, wrong PBX push secrets), the small counter here in the shared cache (Redis in production).
  django-ratelimit was rejected (last release 2023, duplicates DRF).

Django itself logs a person out everywhere else on a password change (the session holds a hash of the password; a
session whose hash no longer matches is flushed on its next request); tests/test_security_sessions.py proves it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from urllib.parse import urlencode

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

logger = logging.getLogger(__name__)

# --- Client address ----------------------------------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or behind DIALIX_TRUSTED_PROXY_COUNT proxies the address the outermost
    trusted proxy saw (X-Forwarded-For read from the right, so a client cannot pick its own by sending the header)."""
    proxies = settings.DIALIX_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def axes_client_ip(request: HttpRequest) -> str | None:
    """client_ip for django-axes, which stores it in an address column: None when there is none (a test client's
    force_login builds a request without REMOTE_ADDR)."""
    ip = client_ip(request)
    return None if ip == "unknown" else ip


# --- Counting failures (wrong tokens, wrong push secrets) ---------------------------------------------------------

FAILURE_WINDOW_SECONDS = 60
_FAILURE_KEY = "dialix:fail:{scope}:{ident}"


def failure_wait_seconds(*, scope: str, ident: str, limit: int) -> int:
    """0 while `ident` (a client address) has had fewer than `limit` failures in its current window; otherwise the
    whole seconds until the window ends. The window opens at the first failure and lasts a minute."""
    key = _FAILURE_KEY.format(scope=scope, ident=ident)
    state = cache.get_many([f"{key}:n", f"{key}:t"])
    if int(state.get(f"{key}:n", 0)) < limit:
        return 0
    started = float(state.get(f"{key}:t", time.time()))
    return max(1, int(started + FAILURE_WINDOW_SECONDS - time.time() + 0.999))


def failure_record(*, scope: str, ident: str) -> None:
    """Counts one failure (atomic in Redis: several web processes count into one number)."""
    key = _FAILURE_KEY.format(scope=scope, ident=ident)
    if cache.add(f"{key}:n", 1, timeout=FAILURE_WINDOW_SECONDS):
        cache.set(f"{key}:t", time.time(), timeout=FAILURE_WINDOW_SECONDS)
        return
    try:
        cache.incr(f"{key}:n")
    except ValueError:  # the window ended between add and incr: this failure opens the next one
        failure_record(scope=scope, ident=ident)


# --- Login lockout ------------------------------------------------------------------------------------------------


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check before the password backends. Logins through a page always carry the request; a call
    without one (Django's test client's ``login()``, a management command) cannot be keyed by address and is left to
    the password backends, instead of raising as Axes' own backend does."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs
    ):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def login_lockouts(*, usernames: list[str] | None = None):
    """Locked or counting login attempts, newest first; `usernames` limits them (an owner's company's people)."""
    from axes.models import AccessAttempt

    attempts = AccessAttempt.objects.order_by("-attempt_time", "-id")
    return attempts if usernames is None else attempts.filter(username__in=usernames)


def login_unlock(*, usernames: list[str]) -> int:
    """Forgets every failed attempt of these usernames (from any address): they can log in again at once."""
    from axes.models import AccessAttempt

    count, _ = AccessAttempt.objects.filter(username__in=usernames).delete()
    logger.info("login_unlocked", extra={"unlocked_count": count})
    return count


# --- Sessions: idle timeout ---------------------------------------------------------------------------------------

LAST_SEEN_KEY = "dialix_last_seen"
LAST_SEEN_RESOLUTION_SECONDS = 300  # move the expiry at most every 5 minutes: a session write is a database write


@receiver(user_logged_in, dispatch_uid="dialix.security.session_seen_at_login")
def _session_seen_at_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[LAST_SEEN_KEY] = int(time.time())


class IdleSessionMiddleware:
    """A session ends DIALIX_SESSION_IDLE_HOURS after its last request: SESSION_COOKIE_AGE is that long and each
    request of a logged-in person moves the expiry forward (every few minutes, not at every request: each move is a
    write). A session older than the idle limit is flushed here too, whatever its cookie says."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and settings.SESSION_COOKIE_NAME in request.COOKIES:
            seen = session.get(LAST_SEEN_KEY)
            now = int(time.time())
            if seen is not None and now - int(seen) > settings.SESSION_COOKIE_AGE:
                from django.contrib.auth import logout

                logout(request)
            elif seen is not None and now - int(seen) > LAST_SEEN_RESOLUTION_SECONDS:
                session[LAST_SEEN_KEY] = now  # modified: SessionMiddleware saves it with a fresh expiry
            elif seen is None and "_auth_user_id" in session:  # a login from before the idle limit existed
                session[LAST_SEEN_KEY] = now
        return self.get_response(request)


# --- Two-factor ---------------------------------------------------------------------------------------------------

TWO_FACTOR_ROLES = ("owner", "supervisor")
# Paths a person who still owes a code may open: the code page itself, logging out, language, static files.
_TWO_FACTOR_OPEN = (
    "/accounts/two-factor/",
    "/accounts/logout/",
    "/accounts/login/",
    "/i18n/",
    "/static/",
    "/healthz",
    "/metrics",
)


def two_factor_required(user) -> bool:
    """The person's company requires a TOTP code and their role is one that must give it. No query beyond the
    membership, which the time-zone middleware has cached on the user already."""
    from companies.tenancy import membership_for_user

    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return False
    membership = membership_for_user(user)
    return bool(membership and membership.company.require_two_factor and membership.role in TWO_FACTOR_ROLES)


class TwoFactorMiddleware:
    """Sends a person who logged in with a password but owes a code (their company requires it) to the code page;
    the console, the dashboard and session API calls all wait for it. API tokens are not affected."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(_TWO_FACTOR_OPEN) and settings.SESSION_COOKIE_NAME in request.COOKIES:
            user = getattr(request, "user", None)
            if two_factor_required(user) and not user.is_verified():
                if request.path.startswith("/api/"):
                    from dialix.api_errors import error_body

                    body = error_body("two_factor_required", "Enter your two-factor code in the console first.")
                    return JsonResponse(body, status=403)
                return HttpResponseRedirect(f"{reverse('two_factor')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


def totp_qr_svg(url: str) -> str:
    """The otpauth:// URL as an inline SVG QR code (attributes only: no style, so the CSP holds)."""
    import segno

    return segno.make(url, error="m").svg_inline(scale=5, border=2, dark="#1d2433")


PENDING_KEY_SESSION = "dialix_totp_pending_key"


def _totp_matches(key_hex: str, code: str) -> int | None:
    """The time step a code matches for this key (now, or one step either side for a slow phone), else None."""
    from django_otp.oath import TOTP

    totp = TOTP(bytes.fromhex(key_hex), step=30, digits=6)
    return totp.t() if totp.verify(int(code), tolerance=1) else None


def two_factor(request: HttpRequest) -> HttpResponse:
    """Enrolment (a QR code and the secret to type, then a code to confirm) or, once enrolled, the code after the
    password. A right code marks the session verified (django_otp.login) and goes on to `next`. The secret being
    enrolled stays in the session until confirmed: opening the page writes no device."""
    import base64
    import secrets as token_source

    from django.contrib.auth.views import redirect_to_login
    from django.shortcuts import render
    from django.utils.translation import gettext as _
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        next_url = resolve_url(settings.LOGIN_REDIRECT_URL)
    if user.is_verified():
        return HttpResponseRedirect(next_url)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()
    pending = None
    if device is None:
        pending = request.session.get(PENDING_KEY_SESSION) or token_source.token_hex(20)
        request.session[PENDING_KEY_SESSION] = pending
    error = ""
    if request.method == "POST":
        code = re.sub(r"\s+", "", request.POST.get("otp_token", ""))
        if code.isdigit() and len(code) == 6:
            if device is not None and device.verify_token(code):  # throttled and replay-protected by django-otp
                otp_login(request, device)
                logger.info("two_factor_verified", extra={"user_id": user.pk, "enrolled": False})
                return HttpResponseRedirect(next_url)
            if pending is not None and (step := _totp_matches(pending, code)) is not None:
                device = TOTPDevice.objects.create(
                    user=user, name=_("Authenticator app"), key=pending, confirmed=True, last_t=step
                )
                del request.session[PENDING_KEY_SESSION]
                otp_login(request, device)
                logger.info("two_factor_verified", extra={"user_id": user.pk, "enrolled": True})
                return HttpResponseRedirect(next_url)
        error = _("That code is not right (or was used already). Enter the code your app shows now.")
        logger.info("two_factor_wrong_code", extra={"user_id": user.pk})
    context = {"enrolling": pending is not None, "error": error, "next": next_url}
    if pending is not None:
        unsaved = TOTPDevice(user=user, key=pending)
        context["secret"] = base64.b32encode(bytes.fromhex(pending)).decode().rstrip("=")
        context["qr_svg"] = totp_qr_svg(unsaved.config_url)
        context["otpauth_url"] = unsaved.config_url
    return render(request, "security/two_factor.html", context, status=400 if error else 200)


def two_factor_reset(*, user) -> int:
    """Removes a person's authenticator devices (a lost phone): they enrol again at their next login."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    count, _ = TOTPDevice.objects.filter(user=user).delete()
    return count


# --- Headers ------------------------------------------------------------------------------------------------------


class PermissionsPolicyMiddleware:
    """Permissions-Policy on every response: browser features no page of ours uses are off."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.DIALIX_PERMISSIONS_POLICY)
        return response


def swagger_ui_view():
    """drf-spectacular's split Swagger UI (its start-up script is a file, not inline), under the CSP with one
    relaxation: Swagger UI's own stylesheet block and React's style attributes need 'unsafe-inline' for styles on this
    page only. Scripts stay 'self' only."""
    from csp.constants import SELF, UNSAFE_INLINE
    from csp.decorators import csp_update
    from drf_spectacular.views import SpectacularSwaggerSplitView

    view = SpectacularSwaggerSplitView.as_view(url_name="schema")
    return csp_update({"style-src": [SELF, UNSAFE_INLINE]})(view)


# --- PBX push: the secret in a header, and never in a log line ----------------------------------------------------

PUSH_SIGNATURE_HEADER = "X-Dialix-Signature"
PUSH_SIGNATURE_MAX_AGE_SECONDS = 300  # a signed push older (or newer) than this is refused: no replays


def push_signature_parts(header: str) -> dict[str, str]:
    """`t=<unix seconds>,kid=<key id>,v1=<hex>` as a dict (unknown parts ignored)."""
    parts: dict[str, str] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name in ("t", "kid", "v1") and value:
            parts[name] = value.strip()
    return parts


def push_signature_valid(*, signing_key: str, timestamp: str, body: bytes, signature: str) -> bool:
    """HMAC-SHA256 over `<t>.<raw body>` with the account's signing key, compared in constant time; the timestamp
    must be within five minutes of ours."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > PUSH_SIGNATURE_MAX_AGE_SECONDS:
        return False
    expected = hmac.new(signing_key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.lower())
