"""Each person's remembered console language (issue 12): stored on the person, put in the session at login."""

from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from companies.models import UserPreference

# The session key dialix.i18n.UserLanguageMiddleware reads: the logged-in person's language, whatever the cookie says.
SESSION_LANGUAGE_KEY = "dialix_language"


def language_codes() -> list[str]:
    return [code for code, _ in settings.LANGUAGES]


def user_language(*, user: AbstractBaseUser) -> str | None:
    """The language this person chose last, or None when they never chose one."""
    language = UserPreference.objects.filter(user=user).values_list("language", flat=True).first()
    return language if language in language_codes() else None


def user_language_set(*, user: AbstractBaseUser, language: str) -> None:
    """Remembers the person's choice; an unknown code is ignored (set_language refuses it too)."""
    if language not in language_codes():
        return
    UserPreference.objects.update_or_create(user=user, defaults={"language": language})


def on_user_logged_in(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    """user_logged_in receiver: the person's remembered language for this session. A person who never chose one keeps
    what they chose on the login page, and that choice is remembered for them."""
    if request is None or not hasattr(request, "session"):
        return
    language = user_language(user=user)
    if language is None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if chosen in language_codes():
            user_language_set(user=user, language=chosen)
        return
    request.session[SESSION_LANGUAGE_KEY] = language
