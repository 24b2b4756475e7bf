"""*Read history from…*: a backfill run reads an older span of the PBX in 7-day windows with a pause between them,
shows its progress, continues from its last committed window when stopped, never moves the account's cursor and
never reads the PBX at the same time as the regular sync."""

import datetime as dt
import threading
import time
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.utils import timezone

import calls.services.sync as sync
from calls.models import Call
from calls.services.sync import pbx_backfill_run, pbx_sync_company
from companies.models import Role
from integrations.models import PbxAccount, SyncKind, SyncRun, SyncStatus
from integrations.services import (
    LEASE,
    BackfillRefused,
    pbx_backfill_queue,
    pbx_backfill_resume,
    pbx_lease_acquire,
    pbx_lease_release,
    pbx_sync_runs_close_stale,
)

pytestmark = pytest.mark.django_db

SEARCH = "mongo_history"
WEEK = dt.timedelta(days=7)


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def synced(pbx_account, company, now) -> PbxAccount:
    """An account whose regular sync has run (one day back): its cursor is now."""
    PbxAccount.objects.filter(pk=pbx_account.pk).update(fetch_recordings=False, backfill_days=1)
    assert pbx_sync_company(company_id=company.pk, until=now).status == SyncStatus.SUCCEEDED
    return PbxAccount.objects.get(pk=pbx_account.pk)


@pytest.fixture
def no_pause(monkeypatch):
    monkeypatch.setattr(sync, "BACKFILL_PAUSE_SECONDS", 0.0)


def _history_windows(pbx_fake, since: int = 0) -> list[tuple[int, int]]:
    windows = []
    for path, form in pbx_fake.requests_log[since:]:
        fields = parse_qs(form)
        if SEARCH in path and "end_stamp_from" in fields:
            windows.append((int(fields["end_stamp_from"][0]), int(fields["end_stamp_to"][0])))
    return windows


def _queue(account, since, *, until=None, capture) -> SyncRun:
    with capture(execute=True):  # commit: the (eager) backfill task runs
        run = pbx_backfill_queue(account=account, since=since, until=until)
    return SyncRun.objects.get(pk=run.pk)


def _stored(company) -> set[str]:
    return set(Call.objects.for_company(company).values_list("pbx_call_id", flat=True))


def test_backfill_reads_weeks_with_a_pause_between_them_and_leaves_the_cursor(
    pbx_fake, synced, company, now, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(sync, "BACKFILL_PAUSE_SECONDS", 0.3)
    since = now - dt.timedelta(days=20)
    old = {days: pbx_fake.add_call(started_at=now - dt.timedelta(days=days))["uuid"] for days in (19, 12, 5)}
    mark = len(pbx_fake.requests_log)

    began = time.monotonic()
    run = _queue(synced, since, until=now, capture=django_capture_on_commit_callbacks)
    took = time.monotonic() - began

    assert (run.kind, run.status) == (SyncKind.BACKFILL, SyncStatus.SUCCEEDED), run.error
    assert (run.windows_done, run.windows_total, run.fetched, run.created) == (3, 3, 3, 3)
    assert run.cursor == now and (run.window_from, run.window_to) == (since, now)
    assert _stored(company) == set(old.values())
    start, end = int(since.timestamp()), int(now.timestamp())
    week = int(WEEK.total_seconds())
    assert _history_windows(pbx_fake, mark) == [
        (start, start + week),
        (start + week, start + 2 * week),
        (start + 2 * week, end),
    ]
    assert took >= 2 * 0.3  # a pause between the windows (spec §8), none before the first
    account = PbxAccount.objects.get(pk=synced.pk)
    assert account.sync_cursor == synced.sync_cursor  # the regular cursor is not moved (backwards or at all)
    assert account.lease_until is None


def test_a_stopped_backfill_resumes_from_its_last_committed_window(
    pbx_fake, synced, company, now, no_pause, django_capture_on_commit_callbacks
):
    since = now - dt.timedelta(days=20)
    uuids = [pbx_fake.add_call(started_at=now - dt.timedelta(days=days))["uuid"] for days in (19, 12, 5)]
    pbx_fake.timeout_sleep_seconds = 0
    pbx_fake.fail_next(1, "timeout", path_contains=SEARCH)  # lets the first window's request through
    pbx_fake.fail_next(1, "http500", path_contains=SEARCH)  # the second window's

    failed = _queue(synced, since, until=now, capture=django_capture_on_commit_callbacks)

    assert failed.status == SyncStatus.FAILED and failed.error.startswith("PbxUnavailable"), failed.error
    assert (failed.windows_done, failed.windows_total, failed.created) == (1, 3, 1)
    assert failed.cursor == since + WEEK
    assert _stored(company) == {uuids[0]}
    mark = len(pbx_fake.requests_log)

    with django_capture_on_commit_callbacks(execute=True):
        assert pbx_backfill_resume(run=failed)

    resumed = SyncRun.objects.get(pk=failed.pk)
    assert (resumed.status, resumed.error) == (SyncStatus.SUCCEEDED, "")
    assert (resumed.windows_done, resumed.created) == (3, 3)
    assert _history_windows(pbx_fake, mark)[0][0] == int((since + WEEK).timestamp())  # not from the start again
    assert _stored(company) == set(uuids)
    assert PbxAccount.objects.get(pk=synced.pk).sync_cursor == synced.sync_cursor
    assert not pbx_backfill_resume(run=resumed)  # read to its end: nothing to resume


def test_a_backfill_whose_worker_died_is_closed_and_then_resumed_from_its_cursor(
    pbx_fake, synced, company, now, no_pause, django_capture_on_commit_callbacks
):
    since = now - dt.timedelta(days=14)
    early, late = (pbx_fake.add_call(started_at=now - dt.timedelta(days=d))["uuid"] for d in (10, 3))
    run = SyncRun.objects.create(  # a worker read the first week, committed it, then died
        company=company,
        account=synced,
        kind=SyncKind.BACKFILL,
        status=SyncStatus.RUNNING,
        started_at=now - dt.timedelta(hours=1),
        window_from=since,
        window_to=now,
        cursor=since + WEEK,
        windows_total=2,
        windows_done=1,
    )
    SyncRun.objects.filter(pk=run.pk).update(updated_at=now - LEASE - dt.timedelta(minutes=1))

    assert pbx_sync_runs_close_stale() == 1
    run.refresh_from_db()
    assert run.status == SyncStatus.FAILED and run.error.startswith("abandoned (the worker stopped)")
    mark = len(pbx_fake.requests_log)
    with django_capture_on_commit_callbacks(execute=True):
        assert pbx_backfill_resume(run=run)

    run.refresh_from_db()
    assert (run.status, run.windows_done, run.created) == (SyncStatus.SUCCEEDED, 2, 1)
    assert _history_windows(pbx_fake, mark) == [(int((since + WEEK).timestamp()), int(now.timestamp()))]
    assert _stored(company) == {late}  # the week the dead worker committed is not read again
    assert early not in _stored(company)


@pytest.mark.django_db(transaction=True)  # the other sync releases the lease from its own connection
def test_backfill_waits_for_the_regular_sync_holding_the_lease(
    pbx_fake, synced, company, now, no_pause, django_capture_on_commit_callbacks
):
    pbx_fake.add_call(started_at=now - dt.timedelta(days=3))
    assert pbx_lease_acquire(account_id=synced.pk)  # a regular sync of this company is reading the PBX
    mark = len(pbx_fake.requests_log)

    def other_sync_finishes() -> None:
        try:
            pbx_lease_release(account_id=synced.pk)
        finally:
            connection.close()

    releaser = threading.Timer(0.4, other_sync_finishes)
    releaser.start()
    try:
        run = _queue(synced, now - dt.timedelta(days=5), until=now, capture=django_capture_on_commit_callbacks)
    finally:
        releaser.join()

    assert (run.status, run.created) == (SyncStatus.SUCCEEDED, 1), run.error
    assert len(_history_windows(pbx_fake, mark)) == 1


def test_backfill_never_reads_while_another_sync_keeps_the_lease_and_says_so(
    pbx_fake, synced, company, now, no_pause, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(sync, "BACKFILL_LEASE_WAIT_SECONDS", 0.2)
    assert pbx_lease_acquire(account_id=synced.pk)
    mark = len(pbx_fake.requests_log)

    run = _queue(synced, now - dt.timedelta(days=5), until=now, capture=django_capture_on_commit_callbacks)

    assert run.status == SyncStatus.FAILED
    assert run.error.startswith("Another sync of this PBX held it for over") and "Resume the backfill" in run.error
    assert pbx_fake.requests_log[mark:] == []  # the PBX was never read by two syncs at once
    assert PbxAccount.objects.get(pk=synced.pk).lease_until is not None  # the other sync's lease is left alone


def test_regular_sync_leaves_a_queued_backfill_alone_and_a_backfill_skips_a_record_it_cannot_parse(
    pbx_fake, synced, company, now, no_pause, django_capture_on_commit_callbacks
):
    good = pbx_fake.add_call(started_at=now - dt.timedelta(days=4))["uuid"]
    bad = pbx_fake.add_call(started_at=now - dt.timedelta(days=4, hours=1), start_stamp="yesterday")["uuid"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queued = pbx_backfill_queue(account=synced, since=now - dt.timedelta(days=6), until=now)
    regular = pbx_sync_company(company_id=company.pk, until=now + dt.timedelta(minutes=5))  # before its task runs
    assert regular.status == SyncStatus.SUCCEEDED
    assert SyncRun.objects.get(pk=queued.pk).status == SyncStatus.QUEUED  # not "covered" by the regular sync

    for callback in callbacks:
        callback()

    run = SyncRun.objects.get(pk=queued.pk)
    assert (run.status, run.created, run.rejected) == (SyncStatus.SUCCEEDED, 1, 1)
    assert run.rejected_records == [{"uuid": bad, "reason": f"OnlinePBX call {bad}: start_stamp is not a number"}]
    assert _stored(company) == {good}


def test_one_backfill_at_a_time_and_only_into_the_past(synced, now, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = pbx_backfill_queue(account=synced, since=now - dt.timedelta(days=30), until=now)
        with pytest.raises(BackfillRefused, match=f"already queued \\(sync run {first.pk}\\)"):
            pbx_backfill_queue(account=synced, since=now - dt.timedelta(days=3), until=now)
        with pytest.raises(BackfillRefused, match="Choose a day in the past"):
            pbx_backfill_queue(account=synced, since=now + dt.timedelta(days=1), until=now)
        with pytest.raises(BackfillRefused, match="at most 366 days back"):
            pbx_backfill_queue(account=synced, since=now - dt.timedelta(days=400), until=now)
    assert first.windows_total == 5  # 30 days: four full weeks and two days
    assert pbx_backfill_run(run_id=first.pk).status == SyncStatus.SUCCEEDED


# --- the console ------------------------------------------------------------------------------------------------------


def test_supervisor_reads_history_from_a_day_and_sees_the_run_with_its_progress(
    pbx_fake, synced, company, now, no_pause, supervisor_client, django_capture_on_commit_callbacks
):
    pbx_fake.add_call(started_at=now - dt.timedelta(days=9))
    url = "/admin/integrations/pbxaccount/"
    asked = supervisor_client.post(url, {"action": "read_history", "_selected_action": [synced.pk]})
    assert asked.status_code == 200  # the page asking for the day
    assert 'name="since"' in asked.content.decode() and synced.domain in asked.content.decode()
    day = (timezone.localtime(now) - dt.timedelta(days=10)).date()

    with django_capture_on_commit_callbacks(execute=True):
        done = supervisor_client.post(
            url,
            {"action": "read_history", "_selected_action": [synced.pk], "apply": "1", "since": day.isoformat()},
            follow=True,
        )

    assert "in 2 window(s) of 7 days" in done.content.decode()
    run = SyncRun.objects.for_company(company).get(kind=SyncKind.BACKFILL)
    assert (run.status, run.windows_done, run.windows_total, run.created) == (SyncStatus.SUCCEEDED, 2, 2, 1)
    assert timezone.localtime(run.window_from, timezone.get_fixed_timezone(300)).date() == day  # Asia/Tashkent
    listing = supervisor_client.get("/admin/integrations/syncrun/").content.decode()
    assert "2 of 2 windows, 1 calls read" in listing and "History (backfill)" in listing


def test_analyst_cannot_read_history(client, company, make_member, synced, django_capture_on_commit_callbacks):
    client.force_login(make_member(company, Role.ANALYST).user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/integrations/pbxaccount/",
            {"action": "read_history", "_selected_action": [synced.pk], "apply": "1", "since": "2025-01-01"},
        )
    assert not SyncRun.objects.for_company(company).filter(kind=SyncKind.BACKFILL).exists()
