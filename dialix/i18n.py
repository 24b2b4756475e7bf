"""The console's language (issue 12): Django's set_language, plus the logged-in person's remembered choice."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from companies.preferences import SESSION_LANGUAGE_KEY, language_codes, user_language_set


@require_POST
@csrf_protect
def set_language(request: HttpRequest) -> HttpResponse:
    """Sets the language cookie (Django's view) and, for a logged-in person, remembers the choice on the person and in
    the session, so it follows them to another browser and wins over an older cookie."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    if language in language_codes() and request.user.is_authenticated:
        user_language_set(user=request.user, language=language)
        request.session[SESSION_LANGUAGE_KEY] = language
    return response


class UserLanguageMiddleware:
    """Before LocaleMiddleware: the logged-in person's remembered language (put in the session at login by
    companies.preferences) wins over the browser's cookie, and the cookie is brought in line with it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        language = session.get(SESSION_LANGUAGE_KEY) if session is not None else None
        cookie_name = settings.LANGUAGE_COOKIE_NAME
        stale = language in language_codes() and request.COOKIES.get(cookie_name) != language
        if stale:
            request.COOKIES[cookie_name] = language
        response = self.get_response(request)
        if stale and request.COOKIES.get(cookie_name) == language and not response.cookies.get(cookie_name):
            response.set_cookie(
                cookie_name,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


def languages(request: HttpRequest) -> dict:
    """Context processor: the switcher's choices, each language named in itself (settings.LANGUAGES, untranslated)."""
    return {"dlx_languages": settings.LANGUAGES}
