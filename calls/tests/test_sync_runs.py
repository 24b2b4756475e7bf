"""A sync's run as a supervisor sees it: Queued at once, then Running and its outcome; never left Running or Queued,
whatever stops it; and, with no broker (tasks in process), one recording's transient error never stops the sync."""

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from calls.models import Call, CallStatus
from calls.services.sync import pbx_sync_company
from calls.tasks import pbx_sync_company_task
from integrations.models import PbxAccount, SyncKind, SyncRun, SyncStatus
from integrations.services import pbx_lease_acquire, pbx_sync_queue

RECORDING = Path(__file__).resolve().parents[2] / "fixtures" / "calls" / "en-01-sale.stereo8k.mp3"
DOWNLOAD = "/calls-records/download/"


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def three_answered_calls(pbx_fake, pbx_account) -> list[str]:
    PbxAccount.objects.filter(pk=pbx_account.pk).update(backfill_days=1)
    now = timezone.now()
    return [
        pbx_fake.add_call(started_at=now - dt.timedelta(hours=h), recording=RECORDING.read_bytes())["uuid"]
        for h in (5, 3, 1)
    ]


def _downloads(pbx_fake) -> int:
    return sum(1 for path, _ in pbx_fake.requests_log if path.startswith(DOWNLOAD))


# --- finding 6: in process, a recording's retry never escapes into the sync ------------------------------------------


@pytest.mark.django_db(transaction=True)  # real commits: the recording tasks run from the page's on-commit hook
def test_in_process_sync_survives_a_transient_recording_error(
    pbx_fake, pbx_account, company, three_answered_calls, media_root
):
    pbx_fake.fail_next(1, "http500", path_contains=DOWNLOAD)  # eager propagation is on, as in production

    run = pbx_sync_company(company_id=company.pk)

    run.refresh_from_db()
    assert (run.status, run.created, run.error) == (SyncStatus.SUCCEEDED, 3, "")
    assert run.finished_at is not None
    assert PbxAccount.objects.get(pk=pbx_account.pk).lease_until is None
    calls = Call.objects.for_company(company).filter(pbx_call_id__in=three_answered_calls)
    assert calls.count() == 3
    statuses = sorted(calls.values_list("status", flat=True))
    assert statuses == [CallStatus.FAILED, CallStatus.RECORDING_STORED, CallStatus.RECORDING_STORED]
    failed = calls.get(status=CallStatus.FAILED)
    # retryable: the console's "Fetch the recording again" picks up this code
    assert failed.failure_code == "recording_unavailable" and not failed.recording
    assert failed.failure_reason.startswith("The recording could not be fetched (PbxUnavailable")
    assert "Fetch the recording again" in failed.failure_reason
    assert _downloads(pbx_fake) == 3


@pytest.mark.django_db(transaction=True)
def test_sync_now_in_process_with_a_transient_recording_error_answers_and_shows_the_run(
    pbx_fake, pbx_account, company, three_answered_calls, media_root, supervisor_client
):
    pbx_fake.fail_next(1, "http500", path_contains=DOWNLOAD)
    response = supervisor_client.post(
        "/admin/integrations/pbxaccount/", {"action": "sync_now", "_selected_action": [pbx_account.pk]}
    )
    assert response.status_code == 302  # was a 500: the Retry escaped from the action
    run = SyncRun.objects.for_company(company).get()
    assert (run.kind, run.status, run.created) == (SyncKind.MANUAL, SyncStatus.SUCCEEDED, 3)
    page = supervisor_client.get("/admin/integrations/syncrun/").content.decode()
    assert "Succeeded" in page


# --- a sync that dies for any reason closes its run ------------------------------------------------------------------


@pytest.mark.django_db
def test_sync_dying_on_an_unexpected_error_closes_its_run_as_failed_and_releases_the_lease(
    pbx_fake, pbx_account, company
):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(backfill_days=1, fetch_recordings=False)
    # A NUL byte from the PBX: PostgreSQL refuses it, which is no IntegrationError.
    pbx_fake.add_call(started_at=timezone.now() - dt.timedelta(hours=1), hangup_cause="NORMAL\x00CLEARING")

    with pytest.raises(Exception, match="NUL") as exc_info:
        pbx_sync_company(company_id=company.pk)

    run = SyncRun.objects.for_company(company).get()
    assert run.status == SyncStatus.FAILED and run.finished_at is not None
    assert run.error == f"{type(exc_info.value).__name__}: {exc_info.value}"
    account = PbxAccount.objects.get(pk=pbx_account.pk)
    assert account.lease_until is None  # the next sync is not locked out
    assert account.last_error.startswith(type(exc_info.value).__name__)
    assert pbx_lease_acquire(account_id=pbx_account.pk)


# --- finding 10: a queued sync shows as Queued at once ---------------------------------------------------------------


@pytest.mark.django_db
def test_sync_queue_shows_a_queued_run_at_once_and_the_sync_picks_that_run_up(
    pbx_fake, pbx_account, company, three_answered_calls, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        queued = pbx_sync_queue(account=pbx_account, kind=SyncKind.MANUAL)
    assert SyncRun.objects.for_company(company).get().status == SyncStatus.QUEUED  # before any worker saw it
    assert (queued.kind, queued.finished_at) == (SyncKind.MANUAL, None)

    for callback in callbacks:
        callback()  # commit: the (eager) sync task runs with that run's id

    run = SyncRun.objects.for_company(company).get()  # the same row, not a second one
    assert (run.pk, run.status, run.created) == (queued.pk, SyncStatus.SUCCEEDED, 3)


@pytest.mark.django_db
def test_queued_run_picked_up_while_another_sync_holds_the_lease_ends_skipped(pbx_fake, pbx_account, company):
    with_lease = pbx_lease_acquire(account_id=pbx_account.pk)
    assert with_lease
    queued = SyncRun.objects.create(
        company=company, account=pbx_account, kind=SyncKind.MANUAL, status=SyncStatus.QUEUED, started_at=timezone.now()
    )

    pbx_sync_company_task(company.pk, SyncKind.MANUAL, queued.pk)

    queued.refresh_from_db()
    assert queued.status == SyncStatus.SKIPPED and queued.finished_at is not None
    assert pbx_fake.requests_log == []  # the PBX was not read twice at once


@pytest.mark.django_db
def test_runs_queued_before_a_sync_are_closed_by_it_and_their_late_task_reads_nothing(pbx_fake, pbx_account, company):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(backfill_days=1, fetch_recordings=False)
    earlier = timezone.now() - dt.timedelta(minutes=3)
    stuck = SyncRun.objects.create(
        company=company, account=pbx_account, kind=SyncKind.MANUAL, status=SyncStatus.QUEUED, started_at=earlier
    )

    reader = pbx_sync_company(company_id=company.pk)  # e.g. the schedule, while the queued message waits

    stuck.refresh_from_db()
    assert (reader.status, stuck.status) == (SyncStatus.SUCCEEDED, SyncStatus.SKIPPED)
    assert stuck.error == f"Sync run {reader.pk} read the PBX instead." and stuck.finished_at is not None
    requests = len(pbx_fake.requests_log)

    pbx_sync_company_task(company.pk, SyncKind.MANUAL, stuck.pk)  # its message arrives after all

    stuck.refresh_from_db()
    assert stuck.status == SyncStatus.SKIPPED and len(pbx_fake.requests_log) == requests
    assert SyncRun.objects.for_company(company).count() == 2


@pytest.mark.django_db
def test_scheduled_task_called_as_beat_does_creates_its_own_run(pbx_fake, pbx_account, company):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(backfill_days=1, fetch_recordings=False)
    pbx_sync_company_task(*[company.pk])  # the periodic task's args: [company_id]
    run = SyncRun.objects.for_company(company).get()
    assert (run.kind, run.status) == (SyncKind.SCHEDULED, SyncStatus.SUCCEEDED)


# --- runs whose worker stopped are closed ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_runs_left_running_or_queued_past_the_lease_are_closed_as_abandoned(pbx_account, company, supervisor_client):
    from calls.tasks import pbx_sync_runs_close_stale_task
    from integrations.services import LEASE

    def run(status: str, kind: str = SyncKind.SCHEDULED) -> SyncRun:
        return SyncRun.objects.create(
            company=company, account=pbx_account, kind=kind, status=status, started_at=timezone.now()
        )

    running, queued, backfill, live = (
        run(SyncStatus.RUNNING),
        run(SyncStatus.QUEUED),
        run(SyncStatus.RUNNING, SyncKind.BACKFILL),
        run(SyncStatus.RUNNING),
    )
    long_ago = timezone.now() - LEASE - dt.timedelta(minutes=1)
    SyncRun.objects.filter(pk__in=[running.pk, queued.pk, backfill.pk]).update(updated_at=long_ago)

    pbx_sync_runs_close_stale_task()  # what Beat runs

    for stale in (running, queued, backfill):
        stale.refresh_from_db()
        assert stale.status == SyncStatus.FAILED and stale.finished_at is not None
        assert stale.error.startswith("abandoned (the worker stopped)")
    assert "Resume the backfill" in backfill.error
    live.refresh_from_db()
    assert (live.status, live.error) == (SyncStatus.RUNNING, "")  # still making progress: left alone
    page = supervisor_client.get("/admin/integrations/syncrun/").content.decode()
    assert page.count("abandoned (the worker stopped)") == 3
