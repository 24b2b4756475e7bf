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


def test_sync_runs_are_listed_with_their_error(supervisor_client, pbx_account, pbx_fake, django_assert_num_queries):
    pbx_fake.fail_next(1, "http500", path_contains="mongo_history")
    for _ in range(3):
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
