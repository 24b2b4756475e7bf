"""The CRM connection in the console (issue 14): masked webhook, Test connection from the exact error, the stop and
its resume, the sync runs, tenancy and the SSRF rules of the webhook URL."""

from datetime import timedelta

import pytest
from django.db import connection as db
from django.utils import timezone

from companies.models import Role
from integrations.crm.errors import CrmAuthError, CrmConfigError
from integrations.models import CrmConnection, CrmSyncRun
from integrations.services_crm import crm_client_for_connection, crm_connection_stop
from integrations.testing.bitrix24 import FakeBitrix24

pytestmark = pytest.mark.django_db

URL = "/admin/integrations/crmconnection/"


@pytest.fixture
def fake(settings):
    settings.DIALIX_CRM_ALLOW_PRIVATE_HOSTS = True  # the fake portal listens on 127.0.0.1 over http
    with FakeBitrix24() as portal:
        yield portal


@pytest.fixture
def crm(company, fake) -> CrmConnection:
    return CrmConnection.objects.create(company=company, webhook_url=fake.webhook_url)


def _form(**overrides: str) -> dict[str, str]:
    form = {
        "provider": "bitrix24",
        "webhook_url": "",
        "is_enabled": "on",
        "write_back": "comment",
        "write_language": "uz",
        "plan": "standard",
        "poll_interval_minutes": "15",
    }
    return {**form, **overrides}


def _test_connection(client, crm: CrmConnection) -> str:
    response = client.post(URL, {"action": "test_connection", "_selected_action": [crm.pk]}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_supervisor_adds_a_connection_the_code_is_encrypted_and_never_shown(supervisor_client, company, fake):
    response = supervisor_client.post(f"{URL}add/", _form(webhook_url=fake.webhook_url.rstrip("/")))
    assert response.status_code == 302, response.content.decode()[:3000]
    crm = CrmConnection.objects.for_company(company).get()
    assert crm.webhook_url == fake.webhook_url  # the trailing slash added
    with db.cursor() as cursor:
        cursor.execute("SELECT webhook_url FROM integrations_crmconnection WHERE id = %s", [crm.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("fernet:") and fake.code not in stored
    page = supervisor_client.get(f"{URL}{crm.pk}/change/").content.decode()
    assert fake.code not in page
    assert f"{fake.portal_url}/rest/1/••••••••/" in page
    listing = supervisor_client.get(URL).content.decode()
    assert fake.code not in listing and f"127.0.0.1:{fake.port}" in listing


def test_saving_without_a_url_keeps_the_stored_one(supervisor_client, crm, fake):
    response = supervisor_client.post(f"{URL}{crm.pk}/change/", _form(write_back="activity"))
    assert response.status_code == 302, response.content.decode()[:3000]
    crm.refresh_from_db()
    assert crm.webhook_url == fake.webhook_url and crm.write_back == "activity"


def test_test_connection_shows_each_part_and_the_exact_error(supervisor_client, crm, fake):
    page = _test_connection(supervisor_client, crm)
    assert "connected: everything Dialix reads works." in page
    for part in ("Webhook valid", "CRM scope", "Contacts readable", "Deals readable", "Funnels and stages"):
        assert f"✓ {part}" in page
    assert "Write rights: not tested" in page
    crm.refresh_from_db()
    assert crm.last_success_at is not None and crm.last_error == ""

    fake.scopes.clear()  # the webhook was made without the crm scope
    page = _test_connection(supervisor_client, crm)
    assert "not working:" in page and "✗ CRM scope" in page and "tick CRM (crm)" in page
    crm.refresh_from_db()
    assert crm.last_error.startswith("CRM scope: ") and crm.stopped_at is None

    CrmConnection.objects.filter(pk=crm.pk).update(webhook_url=fake.webhook_url.replace(fake.code, "wrong1code"))
    page = _test_connection(supervisor_client, crm)
    assert "✗ Webhook valid" in page and "does not accept the webhook" in page
    assert "wrong1code" not in page


def test_a_stopped_connection_shows_why_and_saving_resumes_it(supervisor_client, crm, fake):
    crm_connection_stop(connection=crm, exc=CrmAuthError("Bitrix24: the webhook lacks the crm scope", reason="scope"))
    listing = supervisor_client.get(URL).content.decode()
    assert "dlx-crm-stopped" in listing and "the webhook lacks the crm scope" in listing
    page = supervisor_client.get(f"{URL}{crm.pk}/change/").content.decode()
    assert "This connection is stopped: Bitrix24: the webhook lacks the crm scope" in page

    response = supervisor_client.post(f"{URL}{crm.pk}/change/", _form())
    assert response.status_code == 302
    crm.refresh_from_db()
    assert crm.stopped_at is None and crm.stopped_reason == ""


def test_resume_action_resumes_only_when_the_portal_answers(supervisor_client, crm, fake):
    crm_connection_stop(connection=crm, exc=CrmAuthError("wrong webhook"))
    fake.fail_next(1, "401")
    page = supervisor_client.post(URL, {"action": "resume", "_selected_action": [crm.pk]}, follow=True)
    assert "✗ Webhook valid" in page.content.decode()
    assert CrmConnection.objects.get(pk=crm.pk).stopped_at is not None
    page = supervisor_client.post(URL, {"action": "resume", "_selected_action": [crm.pk]}, follow=True)
    assert "resumed" in page.content.decode()
    assert CrmConnection.objects.get(pk=crm.pk).stopped_at is None


def test_another_companys_supervisor_cannot_see_the_connection(client, crm, other_company, make_member):
    other = make_member(other_company, Role.SUPERVISOR)
    client.force_login(other.user)
    assert f"{crm.pk}/change/" not in client.get(URL).content.decode()
    response = client.get(f"{URL}{crm.pk}/change/")
    assert response.status_code in (302, 404)  # the admin's "does not exist" answer, as for a missing id
    page = client.post(URL, {"action": "test_connection", "_selected_action": [crm.pk]}, follow=True)
    assert "connected" not in page.content.decode()
    assert CrmConnection.objects.get(pk=crm.pk).last_success_at is None


def test_an_analyst_sees_the_connection_but_cannot_test_it(client, crm, company, make_member):
    analyst = make_member(company, Role.ANALYST)
    client.force_login(analyst.user)
    listing = client.get(URL)
    assert listing.status_code == 200 and 'value="test_connection"' not in listing.content.decode()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://acme.bitrix24.kz/rest/1/abc123/", "https only"),
        ("https://10.1.2.3/rest/1/abc123/", "private network"),
        ("https://127.0.0.1/rest/1/abc123/", "private network"),
        ("https://169.254.169.254/rest/1/abc123/", "private network"),
        ("https://acme.bitrix24.kz/crm/deal/list/", "not an incoming webhook URL"),
    ],
)
def test_production_refuses_webhooks_outside_the_public_internet(supervisor_client, settings, url, words):
    settings.DIALIX_CRM_ALLOW_PRIVATE_HOSTS = False
    response = supervisor_client.post(f"{URL}add/", _form(webhook_url=url))
    assert response.status_code == 200 and words in response.content.decode()
    assert not CrmConnection.objects.exists()


def test_a_row_written_around_the_form_is_refused_before_any_request(company, settings):
    settings.DIALIX_CRM_ALLOW_PRIVATE_HOSTS = False
    crm = CrmConnection.objects.create(company=company, webhook_url="https://localhost/rest/1/abc123/")
    with pytest.raises(CrmConfigError, match="private network"):
        crm_client_for_connection(crm)


def test_sync_runs_are_listed_read_only_with_counts_and_errors(
    supervisor_client, crm, company, other_company, django_assert_num_queries
):
    now = timezone.now()
    for i, (status, error) in enumerate([("succeeded", ""), ("failed", "CrmUnavailable: timed out"), ("running", "")]):
        CrmSyncRun.objects.create(
            company=company,
            connection=crm,
            kind="poll",
            status=status,
            started_at=now - timedelta(minutes=i),
            finished_at=now,
            requests=3 + i,
            deals_read=50 + i,
            calls_updated=7,
            error=error,
        )
    other = CrmConnection.objects.create(company=other_company, webhook_url="https://b.bitrix24.kz/rest/1/x1/")
    CrmSyncRun.objects.create(
        company=other_company, connection=other, kind="poll", status="failed", started_at=now, error="ZZOTHER"
    )
    # session, user, membership+company, the role's permissions (2), the count, one page with the connection
    # joined, and the status filter's distinct values. Independent of the number of runs.
    with django_assert_num_queries(8):
        page = supervisor_client.get("/admin/integrations/crmsyncrun/").content.decode()
    assert page.count('class="field-deals_read"') == 3 and ">52<" in page
    assert "CrmUnavailable: timed out" in page and "ZZOTHER" not in page
    assert 'href="/admin/integrations/crmsyncrun/add/"' not in page
