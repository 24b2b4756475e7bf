import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django_celery_beat.models import PeriodicTask

from integrations.models import PbxAccount, SyncRun, SyncStatus

pytestmark = pytest.mark.django_db


def test_supervisor_adds_pbx_account_key_is_encrypted_and_schedule_created(supervisor_client, company):
    response = supervisor_client.post(
        "/admin/integrations/pbxaccount/add/",
        {
            "provider": "onlinepbx",
            "domain": "pbx1.onpbx.ru",
            "api_key": "secret-api-key-1234",
            "api_base_url": "",
            "is_enabled": "on",
            "sync_interval_minutes": "7",
            "backfill_days": "7",
            "overlap_minutes": "60",
            "fetch_recordings": "on",
            "operator_channel": "left",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account = PbxAccount.objects.for_company(company).get()
    assert account.api_key == "secret-api-key-1234"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM integrations_pbxaccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("fernet:") and "secret-api-key" not in stored
    task = PeriodicTask.objects.get(name=f"pbx-sync-{company.pk}")
    assert (task.interval.every, task.args, task.enabled) == (7, f"[{company.pk}]", True)
    page = supervisor_client.get(f"/admin/integrations/pbxaccount/{account.pk}/change/").content.decode()
    assert "secret-api-key-1234" not in page and "1234" in page  # masked, last four shown


def test_test_connection_reports_success_and_the_exact_error(supervisor_client, pbx_account, pbx_fake):
    url = "/admin/integrations/pbxaccount/"
    ok = supervisor_client.post(url, {"action": "test_connection", "_selected_action": [pbx_account.pk]}, follow=True)
    assert "connected, 5 PBX users visible" in ok.content.decode()
    PbxAccount.objects.filter(pk=pbx_account.pk).update(api_key="wrong", session_key="", session_key_id="")
    bad = supervisor_client.post(url, {"action": "test_connection", "_selected_action": [pbx_account.pk]}, follow=True)
    assert "connection failed — PbxAuthError" in bad.content.decode()
    assert PbxAccount.objects.get(pk=pbx_account.pk).last_error.startswith("PbxAuthError")


def test_sync_runs_are_listed_with_their_error(
    supervisor_client, pbx_account, pbx_fake, django_assert_num_queries, django_capture_on_commit_callbacks
):
    pbx_fake.fail_next(1, "http500", path_contains="mongo_history")
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):  # Sync now queues the run's task on commit
            supervisor_client.post(
                "/admin/integrations/pbxaccount/", {"action": "sync_now", "_selected_action": [pbx_account.pk]}
            )
    assert SyncRun.objects.for_company(pbx_account.company).count() == 3
    assert SyncRun.objects.for_company(pbx_account.company).filter(status=SyncStatus.FAILED).count() == 1
    # session, user, membership+company, ModelBackend's user and group permissions (2), count, one page with the
    # account joined, and the date hierarchy's min/max and day list (2). Independent of the number of runs.
    with django_assert_num_queries(9):
        page = supervisor_client.get("/admin/integrations/syncrun/").content.decode()
    assert "PbxUnavailable" in page and "Succeeded" in page


# --- the PBX host is the server's (issue 9, finding 8: SSRF) ---------------------------------------------------------


class _CountingHandler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        body = b"ami-id: secret-metadata-of-the-host"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def listener() -> Iterator[ThreadingHTTPServer]:
    """An internal service on another port: it counts every request it gets and answers secret text."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _change_form(account: PbxAccount, **overrides: str) -> dict[str, str]:
    form = {
        "provider": "onlinepbx",
        "domain": account.domain,
        "api_key": "",
        "is_enabled": "on",
        "sync_interval_minutes": "5",
        "backfill_days": "7",
        "overlap_minutes": "60",
        "fetch_recordings": "on",
        "operator_channel": "left",
    }
    return {**form, **overrides}


def _test_connection(client, account: PbxAccount) -> str:
    url = "/admin/integrations/pbxaccount/"
    response = client.post(url, {"action": "test_connection", "_selected_action": [account.pk]}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_supervisor_cannot_point_test_connection_at_another_host(supervisor_client, pbx_account, pbx_fake, listener):
    target = f"http://127.0.0.1:{listener.server_port}/?x="
    change = f"/admin/integrations/pbxaccount/{pbx_account.pk}/change/"
    assert "api_base_url" not in supervisor_client.get(change).content.decode()  # no such field on their form

    saved = supervisor_client.post(change, _change_form(pbx_account, api_base_url=target))

    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert PbxAccount.objects.get(pk=pbx_account.pk).api_base_url == ""
    page = _test_connection(supervisor_client, pbx_account)
    assert "connected, 5 PBX users visible" in page  # the server's PBX host (the fake) answered
    assert listener.hits == []


def test_an_override_written_around_the_form_is_refused_and_nothing_is_sent(
    supervisor_client, pbx_account, pbx_fake, listener
):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(api_base_url=f"http://127.0.0.1:{listener.server_port}/?x=")

    page = _test_connection(supervisor_client, pbx_account)

    assert "connection failed — PbxConfigError" in page and "not an allowed PBX host" in page
    assert listener.hits == []
    # Editing the account drops the unusable override instead of failing the save.
    change = f"/admin/integrations/pbxaccount/{pbx_account.pk}/change/"
    assert supervisor_client.post(change, _change_form(pbx_account)).status_code == 302
    assert PbxAccount.objects.get(pk=pbx_account.pk).api_base_url == ""


def test_superuser_override_must_be_on_the_allow_list(admin_client, pbx_account, listener, settings):
    change = f"/admin/integrations/pbxaccount/{pbx_account.pk}/change/"
    target = f"http://127.0.0.1:{listener.server_port}"

    refused = admin_client.post(change, _change_form(pbx_account, api_base_url=target))
    assert refused.status_code == 200 and "This API host is not allowed" in refused.content.decode()
    with_query = admin_client.post(change, _change_form(pbx_account, api_base_url=f"{target}/?x="))
    assert with_query.status_code == 200 and "This API host is not allowed" in with_query.content.decode()
    assert PbxAccount.objects.get(pk=pbx_account.pk).api_base_url == ""

    settings.DIALIX_PBX_BASE_URL_ALLOWLIST = [f"127.0.0.1:{listener.server_port}"]
    assert admin_client.post(change, _change_form(pbx_account, api_base_url=target)).status_code == 302
    assert PbxAccount.objects.get(pk=pbx_account.pk).api_base_url == target


def test_garbage_answer_is_reported_without_the_body(supervisor_client, pbx_account, pbx_fake):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(session_key="", session_key_id="")
    pbx_fake.fail_next(1, "garbage", path_contains="auth.json")

    page = _test_connection(supervisor_client, pbx_account)

    assert "connection failed — PbxBadResponse: OnlinePBX answered auth.json with HTTP 200 and something" in page
    account = PbxAccount.objects.get(pk=pbx_account.pk)
    assert (
        account.last_error
        == "PbxBadResponse: OnlinePBX answered auth.json with HTTP 200 and something that is not JSON"
    )
    listing = supervisor_client.get("/admin/integrations/pbxaccount/").content.decode()
    for shown in (page, account.last_error, listing):
        assert "Maintenance" not in shown and "oops" not in shown


@pytest.mark.parametrize("domain", ["evil.com/x?", "pbx.onpbx.ru:8080", "a@b.ru", "pbx one.ru"])
def test_domain_that_is_not_a_host_name_is_a_field_error(supervisor_client, pbx_account, domain):
    change = f"/admin/integrations/pbxaccount/{pbx_account.pk}/change/"

    response = supervisor_client.post(change, _change_form(pbx_account, domain=domain))

    assert response.status_code == 200
    assert "Enter the PBX domain only" in response.content.decode()
    assert PbxAccount.objects.get(pk=pbx_account.pk).domain == pbx_account.domain


def test_test_connection_with_a_bad_domain_stored_earlier_is_a_clear_error(supervisor_client, pbx_account, pbx_fake):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(domain="evil.com/x?")

    page = _test_connection(supervisor_client, pbx_account)

    assert "connection failed — PbxConfigError: The PBX domain is not a host name" in page
    assert pbx_fake.requests_log == []


def _engine_form(settings_row) -> dict:
    return {
        "engine_uz": settings_row.engine_uz,
        "engine_ru": settings_row.engine_ru,
        "engine_en": settings_row.engine_en,
        "engine_unknown": settings_row.engine_unknown,
        "fallback_engine": settings_row.fallback_engine,
        "analyzer_engine": settings_row.analyzer_engine,
    }


def test_uzbekvoice_is_recommended_for_uzbek_and_taken_in_one_click(supervisor_client, company, settings):
    from integrations.models import EngineSettings

    settings.UZBEKVOICE_API_KEY = "uv-key"
    company.languages = ["uz", "ru"]
    company.save()
    row = EngineSettings.objects.create(company=company)
    url = f"/admin/integrations/enginesettings/{row.pk}/change/"

    page = supervisor_client.get(url).content.decode()
    assert "Recommended: UzbekVoice" in page and 'name="_use_uzbekvoice"' in page.replace("'", '"')

    response = supervisor_client.post(url, {**_engine_form(row), "_use_uzbekvoice": "1"})

    assert response.status_code == 302, response.content.decode()[:2000]
    row.refresh_from_db()
    assert row.engine_uz == "uzbekvoice"
    assert "Recommended: UzbekVoice" not in supervisor_client.get(url).content.decode()


def test_without_an_uzbekvoice_key_the_advice_says_who_must_set_it(supervisor_client, company, settings):
    from integrations.models import EngineSettings

    settings.UZBEKVOICE_API_KEY = ""
    company.languages = ["uz"]
    company.save()
    row = EngineSettings.objects.create(company=company)

    page = supervisor_client.get(f"/admin/integrations/enginesettings/{row.pk}/change/").content.decode()

    assert "UZBEKVOICE_API_KEY" in page and "_use_uzbekvoice" not in page
