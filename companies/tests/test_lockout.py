"""Login lockout (issue 16, django-axes): the 6th wrong password for one login from one address locks it, the right
password then fails too, and an owner (their company's people only) or staff unlocks it in the console."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client

from companies.models import LoginLockout, Membership, Role

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "pw-123456"  # the root conftest's make_member password


def _try(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def _logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


@pytest.fixture
def owner(company, make_member) -> Membership:
    return make_member(company, Role.OWNER)


def test_five_wrong_passwords_still_let_the_right_one_in(supervisor):
    client = Client(REMOTE_ADDR="10.1.0.1")
    for _ in range(5):
        assert _try(client, supervisor.user.username, "wrong").status_code == 200  # the form again, with its error
    assert _logged_in(_try(client, supervisor.user.username, PASSWORD))


def test_the_sixth_wrong_password_locks_the_login_and_the_right_one_then_fails(supervisor):
    client = Client(REMOTE_ADDR="10.1.0.2")
    for _ in range(5):
        assert _try(client, supervisor.user.username, "wrong").status_code == 200
    sixth = _try(client, supervisor.user.username, "wrong")
    assert sixth.status_code == 429
    assert "Too many wrong passwords" in sixth.content.decode()

    right = _try(client, supervisor.user.username, PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    attempt = AccessAttempt.objects.get(username=supervisor.user.username)
    assert (attempt.ip_address, attempt.failures_since_start) == ("10.1.0.2", 7)  # kept in the database


def test_a_lockout_holds_for_that_login_from_that_address_only(supervisor, make_member, company):
    other = make_member(company, Role.ANALYST)
    attacker = Client(REMOTE_ADDR="10.1.0.3")
    for _ in range(6):
        _try(attacker, supervisor.user.username, "wrong")
    assert _try(attacker, supervisor.user.username, PASSWORD).status_code == 429
    # The same person from the office's address, and another person from the attacker's address, still log in.
    assert _logged_in(_try(Client(REMOTE_ADDR="10.1.0.4"), supervisor.user.username, PASSWORD))
    assert _logged_in(_try(Client(REMOTE_ADDR="10.1.0.3"), other.user.username, PASSWORD))


def _lock(username: str, ip: str) -> Client:
    client = Client(REMOTE_ADDR=ip)
    for _ in range(6):
        _try(client, username, "wrong")
    assert _try(client, username, PASSWORD).status_code == 429
    return client


def test_an_owner_unlocks_their_person_in_the_console(owner, supervisor):
    locked = _lock(supervisor.user.username, "10.1.0.5")
    console = Client()
    console.force_login(owner.user)

    page = console.get("/admin/companies/loginlockout/")
    assert page.status_code == 200
    assert supervisor.user.username in page.content.decode()
    attempt = LoginLockout.objects.get(username=supervisor.user.username)
    done = console.post(
        "/admin/companies/loginlockout/", {"action": "unlock", "_selected_action": [attempt.pk]}, follow=True
    )
    assert f"Unlocked: {supervisor.user.username}." in done.content.decode()

    assert _logged_in(_try(locked, supervisor.user.username, PASSWORD))


def test_an_owner_unlocks_from_the_people_list_too(owner, supervisor):
    locked = _lock(supervisor.user.username, "10.1.0.6")
    console = Client()
    console.force_login(owner.user)
    console.post("/admin/companies/membership/", {"action": "unlock_login", "_selected_action": [supervisor.pk]})
    assert _logged_in(_try(locked, supervisor.user.username, PASSWORD))


def test_an_owner_sees_and_unlocks_only_their_companys_logins(owner, other_company, make_member):
    stranger = make_member(other_company, Role.SUPERVISOR)
    _lock(stranger.user.username, "10.1.0.7")
    console = Client()
    console.force_login(owner.user)

    page = console.get("/admin/companies/loginlockout/")
    assert stranger.user.username not in page.content.decode()
    attempt = LoginLockout.objects.get(username=stranger.user.username)
    assert console.get(f"/admin/companies/loginlockout/{attempt.pk}/change/").status_code == 302  # "does not exist"
    console.post("/admin/companies/loginlockout/", {"action": "unlock", "_selected_action": [attempt.pk]})
    assert LoginLockout.objects.filter(username=stranger.user.username).exists()  # still locked


def test_supervisors_do_not_see_lockouts(supervisor):
    console = Client()
    console.force_login(supervisor.user)
    assert console.get("/admin/companies/loginlockout/").status_code == 403


def test_staff_unlock_anyone(other_company, make_member):
    stranger = make_member(other_company, Role.OWNER)
    locked = _lock(stranger.user.username, "10.1.0.8")
    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw-staff-1")
    console = Client()
    console.force_login(staff)
    attempt = LoginLockout.objects.get(username=stranger.user.username)
    console.post("/admin/companies/loginlockout/", {"action": "unlock", "_selected_action": [attempt.pk]})
    assert _logged_in(_try(locked, stranger.user.username, PASSWORD))


def test_lockout_list_query_count(owner, make_member, company, django_assert_num_queries):
    people = [make_member(company, Role.ANALYST, username=f"analyst-{n}") for n in range(3)]
    for n, person in enumerate(people):
        _lock(person.user.username, f"10.2.0.{n}")
    console = Client()
    console.force_login(owner.user)
    # session, user, membership with company, the company's usernames, the count, the user's and groups' permissions
    # (Django's backend, for the actions), one page of rows: the same with 3 rows as with none
    with django_assert_num_queries(8):
        page = console.get("/admin/companies/loginlockout/")
    assert all(person.user.username in page.content.decode() for person in people)
