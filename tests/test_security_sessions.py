"""Sessions (issue 16): signed out after the idle limit (default 8 hours) without a request, kept alive while the
person works, and ended everywhere else when the password changes."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from dialix.security import LAST_SEEN_KEY, LAST_SEEN_RESOLUTION_SECONDS

pytestmark = pytest.mark.django_db
PASSWORD = "pw-123456"


def _login(username: str) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def _age_session(client: Client, seconds: int) -> None:
    """As if the last request was `seconds` ago (the session row keeps its expiry)."""
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - seconds
    session.save()


def test_the_idle_limit_is_eight_hours_by_default():
    assert settings.DIALIX_SESSION_IDLE_HOURS == 8
    assert settings.SESSION_COOKIE_AGE == 8 * 3600


def test_a_session_idle_past_the_limit_is_signed_out(supervisor):
    client = _login(supervisor.user.username)
    assert client.get("/dashboard/").status_code == 200
    _age_session(client, settings.SESSION_COOKIE_AGE + 60)
    response = client.get("/dashboard/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_activity_moves_the_expiry_forward(supervisor):
    client = _login(supervisor.user.username)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    _age_session(client, LAST_SEEN_RESOLUTION_SECONDS + 60)
    stored = Session.objects.get(session_key=key)
    Session.objects.filter(session_key=key).update(expire_date=stored.expire_date - timedelta(hours=7))
    before = Session.objects.get(session_key=key).expire_date
    assert client.get("/dashboard/").status_code == 200
    after = Session.objects.get(session_key=key).expire_date
    assert (after - before).total_seconds() > 6 * 3600  # a fresh eight hours from now


def test_requests_in_quick_succession_do_not_write_the_session(supervisor):
    client = _login(supervisor.user.username)
    client.get("/dashboard/")
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    before = Session.objects.get(session_key=key).expire_date
    client.get("/dashboard/")
    assert Session.objects.get(session_key=key).expire_date == before


def test_a_password_change_signs_out_every_other_session(supervisor):
    laptop = _login(supervisor.user.username)
    phone = _login(supervisor.user.username)
    assert phone.get("/dashboard/").status_code == 200

    response = laptop.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": "a-new-long-pass-42", "new_password2": "a-new-long-pass-42"},
    )
    assert response.status_code == 302, response.content
    assert laptop.get("/dashboard/").status_code == 200  # the session that changed it stays in
    signed_out = phone.get("/dashboard/")
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/accounts/login/")
