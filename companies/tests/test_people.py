"""People (issue 12): an owner adds a person and gets a one-time set-password link, changes roles, deactivates; the
company always keeps an owner; engine settings show the engines in use and which are configured."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from companies.models import Membership, Role
from companies.services import PeopleError, member_role_change, member_set_active, person_add

pytestmark = pytest.mark.django_db
User = get_user_model()
ADD_URL = "/admin/companies/membership/add/"


@pytest.fixture
def owner(company, make_member) -> Membership:
    return make_member(company, Role.OWNER)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


def _link(response) -> str:
    found = re.search(r"data-testid='set-password-link' href='([^']+)'", response.content.decode())
    assert found, "the set-password link is shown once"
    return found.group(1)


def test_an_owner_adds_a_person_who_sets_a_password_once_and_logs_in(owner_client, company):
    response = owner_client.post(
        ADD_URL, {"name": "Dilnoza Karimova", "email": "Dilnoza@Example.uz", "role": Role.SUPERVISOR}, follow=True
    )
    assert response.status_code == 200
    link = _link(response)
    person = Membership.objects.select_related("user").get(user__username="dilnoza@example.uz")
    assert (person.company, person.role, person.user.get_full_name()) == (company, Role.SUPERVISOR, "Dilnoza Karimova")
    assert person.user.is_staff and not person.user.has_usable_password()

    browser = Client()
    form = browser.get(link, follow=True)
    assert b"new_password1" in form.content
    done = browser.post(
        form.redirect_chain[-1][0], {"new_password1": "Tashkent-2026!", "new_password2": "Tashkent-2026!"}, follow=True
    )
    assert done.status_code == 200 and b"Password reset complete" in done.content
    assert browser.login(username="dilnoza@example.uz", password="Tashkent-2026!")
    assert browser.get("/admin/calls/call/").status_code == 200

    again = Client().get(link, follow=True)  # the link worked once
    assert b"new_password1" not in again.content and b"invalid" in again.content


def test_an_email_already_used_is_a_field_error(owner_client, company, make_member):
    make_member(company, Role.ANALYST, username="taken@example.uz")
    response = owner_client.post(ADD_URL, {"name": "X", "email": "TAKEN@example.uz", "role": Role.ANALYST})
    assert response.status_code == 200 and "A login with this email exists already." in response.content.decode()
    assert Membership.objects.filter(company=company).count() == 2


def test_an_owner_changes_a_role_and_deactivates(owner_client, company, make_member):
    analyst = make_member(company, Role.ANALYST)
    response = owner_client.post(f"/admin/companies/membership/{analyst.pk}/change/", {"role": Role.SUPERVISOR})
    assert response.status_code == 302
    analyst.refresh_from_db()
    assert analyst.role == Role.SUPERVISOR and analyst.user.is_staff
    owner_client.post(
        "/admin/companies/membership/",
        {"action": "deactivate", "_selected_action": [analyst.pk]},
    )
    analyst.user.refresh_from_db()
    assert not analyst.user.is_active
    assert not Client().login(username=analyst.user.username, password="pw-123456")


def test_the_company_keeps_an_owner(owner, company, make_member):
    with pytest.raises(PeopleError, match="needs an owner"):
        member_role_change(company=company, membership_id=owner.pk, role=Role.ANALYST)
    with pytest.raises(PeopleError, match="yourself"):
        member_set_active(company=company, membership_id=owner.pk, active=False, by=owner.user)
    second = make_member(company, Role.OWNER, username="second-owner")
    assert member_role_change(company=company, membership_id=owner.pk, role=Role.ANALYST).role == Role.ANALYST
    with pytest.raises(PeopleError, match="active owner"):
        member_set_active(company=company, membership_id=second.pk, active=False)


def test_the_last_owner_cannot_demote_themselves_in_the_console(owner_client, owner):
    response = owner_client.post(f"/admin/companies/membership/{owner.pk}/change/", {"role": Role.ANALYST})
    assert response.status_code == 200 and "make someone else owner first" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_a_supervisor_cannot_add_people(supervisor_client):
    assert supervisor_client.get(ADD_URL).status_code == 403
    response = supervisor_client.post(ADD_URL, {"name": "X", "email": "x@example.uz", "role": Role.OWNER})
    assert response.status_code == 403 and not User.objects.filter(username="x@example.uz").exists()


def test_an_owner_cannot_touch_another_companys_people(owner_client, other_company, make_member):
    theirs = make_member(other_company, Role.ANALYST)
    owner_client.post(f"/admin/companies/membership/{theirs.pk}/change/", {"role": Role.OWNER})
    owner_client.post("/admin/companies/membership/", {"action": "deactivate", "_selected_action": [theirs.pk]})
    theirs.refresh_from_db()
    theirs.user.refresh_from_db()
    assert theirs.role == Role.ANALYST and theirs.user.is_active


def test_person_add_service_refuses_an_unknown_role(company):
    with pytest.raises(PeopleError):
        person_add(company=company, name="A", email="a@example.uz", role="boss")


def test_engine_settings_show_the_engines_in_use_and_the_keys_present(owner_client, company, settings):
    from integrations.models import EngineSettings

    settings.DIALIX_STT_ENGINE = "offline"
    settings.OPENAI_API_KEY = ""
    settings.UZBEKVOICE_API_KEY = "uv-key"
    prefs = EngineSettings.objects.create(company=company, engine_uz="uzbekvoice", engine_ru="openai")
    page = owner_client.get(f"/admin/integrations/enginesettings/{prefs.pk}/change/").content.decode()
    assert "Uzbek: <b>UzbekVoice</b> (company&#x27;s choice)" in page
    assert "English: <b>Offline (Whisper on our servers)</b> (server default)" in page
    assert "Russian: <b>OpenAI</b> (company&#x27;s choice) — not configured" in page
    assert "openai ✗ no key" in page and "uzbekvoice ✓ key present" in page
