"""TOTP two-factor (issue 16, django-otp): when the company requires it, owners and supervisors enrol with a QR code
(or the secret typed in) and then give a code after the password; analysts and API tokens are not asked."""

import re
import time

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from companies.models import Company, Role

pytestmark = pytest.mark.django_db
PASSWORD = "pw-123456"


def _code(key_hex: str, *, at: float | None = None) -> str:
    totp = TOTP(bytes.fromhex(key_hex), step=30, digits=6)
    if at is not None:
        totp.time = at
    return f"{totp.token():06d}"


def _b32_to_hex(secret: str) -> str:
    import base64

    return base64.b32decode(secret + "=" * (-len(secret) % 8)).hex()


@pytest.fixture
def strict(company) -> Company:
    company.require_two_factor = True
    company.save(update_fields=["require_two_factor"])
    return company


def _login(username: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def test_a_supervisor_enrols_then_gives_a_code_at_every_login(strict, make_member):
    supervisor = make_member(strict, Role.SUPERVISOR)
    client = _login(supervisor.user.username)

    # Any page sends them to the code page first; it shows a QR code (SVG, no inline style) and the secret.
    response = client.get("/admin/calls/call/")
    assert (
        response.status_code == 302 and response["Location"] == "/accounts/two-factor/?next=%2Fadmin%2Fcalls%2Fcall%2F"
    )
    page = client.get(response["Location"]).content.decode()
    assert "<svg" in page and "style=" not in page
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert not TOTPDevice.objects.filter(user=supervisor.user).exists()  # nothing stored until confirmed

    wrong = client.post("/accounts/two-factor/", {"otp_token": "000000", "next": "/admin/calls/call/"})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    done = client.post("/accounts/two-factor/", {"otp_token": _code(_b32_to_hex(secret)), "next": "/admin/calls/call/"})
    assert done.status_code == 302 and done["Location"] == "/admin/calls/call/"
    assert client.get("/admin/calls/call/").status_code == 200
    assert TOTPDevice.objects.get(user=supervisor.user).confirmed

    # The next login asks for a code (no QR code: enrolled), and a fresh one lets them in.
    again = _login(supervisor.user.username)
    assert again.get("/dashboard/").status_code == 302
    page = again.get("/accounts/two-factor/").content.decode()
    assert "<svg" not in page and "totp-secret" not in page
    next_step = time.time() + 30  # the code used at enrolment works once: the next step's code
    response = again.post("/accounts/two-factor/", {"otp_token": _code(_b32_to_hex(secret), at=next_step)})
    assert response.status_code == 302
    assert again.get("/dashboard/").status_code == 200


def test_a_used_code_does_not_work_twice(strict, make_member):
    owner = make_member(strict, Role.OWNER)
    key = "3132333435363738393031323334353637383930"
    TOTPDevice.objects.create(user=owner.user, name="phone", key=key, confirmed=True)
    first = _login(owner.user.username)
    code = _code(key)
    assert first.post("/accounts/two-factor/", {"otp_token": code}).status_code == 302
    second = _login(owner.user.username)
    assert second.post("/accounts/two-factor/", {"otp_token": code}).status_code == 400


def test_session_api_calls_wait_for_the_code_but_tokens_do_not(strict, make_member, token_client):
    supervisor = make_member(strict, Role.SUPERVISOR)
    client = _login(supervisor.user.username)
    response = client.get("/api/v1/calls/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "two_factor_required"
    assert token_client.get("/api/v1/calls/").status_code == 200


def test_analysts_and_companies_without_the_setting_are_not_asked(strict, make_member, other_company):
    analyst = make_member(strict, Role.ANALYST)
    assert _login(analyst.user.username).get("/dashboard/").status_code == 200
    relaxed = make_member(other_company, Role.OWNER)
    assert _login(relaxed.user.username).get("/admin/").status_code == 200


def test_an_owner_turns_the_setting_on_for_their_company_only(company, other_company, make_member):
    owner = make_member(company, Role.OWNER)
    client = Client()
    client.force_login(owner.user)
    assert client.get(f"/admin/companies/company/{other_company.pk}/change/").status_code == 302  # "does not exist"
    response = client.post(f"/admin/companies/company/{company.pk}/change/", {"require_two_factor": "on"})
    assert response.status_code == 302, response.content
    company.refresh_from_db()
    assert company.require_two_factor is True
    assert client.get("/admin/").status_code == 302  # now the owner too owes a code (verify page)


def test_an_owner_resets_a_lost_phone(strict, make_member):
    owner = make_member(strict, Role.OWNER)
    supervisor = make_member(strict, Role.SUPERVISOR)
    key = "3132333435363738393031323334353637383930"
    TOTPDevice.objects.create(user=owner.user, name="phone", key=key, confirmed=True)
    TOTPDevice.objects.create(user=supervisor.user, name="phone", key=key, confirmed=True)
    client = _login(owner.user.username)
    client.post("/accounts/two-factor/", {"otp_token": _code(key)})
    client.post("/admin/companies/membership/", {"action": "reset_two_factor", "_selected_action": [supervisor.pk]})
    assert not TOTPDevice.objects.filter(user=supervisor.user).exists()
    page = _login(supervisor.user.username).get("/accounts/two-factor/").content.decode()
    assert "totp-secret" in page  # enrols again
