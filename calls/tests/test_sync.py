"""PBX sync against the fake OnlinePBX over real HTTP: windows, cursor, overlap, failures, lease and query counts."""

import dataclasses
import datetime as dt
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.utils import timezone

from calls.models import Call, CallStatus, Direction
from calls.services.ingest import calls_upsert_from_pbx, operators_upsert_from_pbx
from calls.services.sync import pbx_sync_company
from integrations.models import PbxAccount, SyncRun, SyncStatus
from integrations.pbx.base import PbxCall, PbxOperator
from integrations.services import pbx_lease_acquire
from operators.models import Operator

pytestmark = pytest.mark.django_db

SEARCH = "mongo_history"
RECORDING = Path(__file__).resolve().parents[2] / "fixtures" / "calls" / "en-01-sale.stereo8k.mp3"


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def three_days(pbx_account):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(fetch_recordings=False, backfill_days=3)
    return pbx_account


@pytest.fixture
def one_day_with_recordings(pbx_account):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(backfill_days=1)
    return pbx_account


@pytest.fixture
def one_day(pbx_account):
    """History only and a one-day backfill: a first sync reads 4 windows of 6 hours (a few HTTP requests)."""
    PbxAccount.objects.filter(pk=pbx_account.pk).update(fetch_recordings=False, backfill_days=1)
    return pbx_account


def _account(account: PbxAccount) -> PbxAccount:
    return PbxAccount.objects.get(pk=account.pk)


def _search_windows(pbx_fake, since: int = 0) -> list[tuple[int, int]]:
    """(end_stamp_from, end_stamp_to) of each history request the fake answered, from request number ``since``: a
    sync reads calls by the time they ended."""
    windows = []
    for path, form in pbx_fake.requests_log[since:]:
        fields = parse_qs(form)
        assert "start_stamp_from" not in fields, "the sync reads by end time"
        if SEARCH in path and "end_stamp_from" in fields:
            windows.append((int(fields["end_stamp_from"][0]), int(fields["end_stamp_to"][0])))
    return windows


def _let_next_search_through(pbx_fake) -> None:
    # Failures are consumed in order by matching requests: "timeout" with no sleep answers normally, so it lets exactly
    # one history request (the first window) through before the failure queued after it.
    pbx_fake.timeout_sleep_seconds = 0
    pbx_fake.fail_next(1, "timeout", path_contains=SEARCH)


def _snapshot(company) -> dict[str, tuple]:
    return {
        c.pbx_call_id: (c.pk, c.updated_at, c.status, c.talk_seconds)
        for c in Call.objects.for_company(company).order_by("pk")
    }


# --- first and incremental syncs --------------------------------------------------------------------------------------


def test_pbx_sync_company_first_sync_stores_operators_and_calls(pbx_fake, three_days, company):
    pbx_fake.add_calls_generated(20, start=timezone.now() - dt.timedelta(days=2), spacing_seconds=600)
    run = pbx_sync_company(company_id=company.pk)
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert (run.fetched, run.created, run.updated) == (20, 20, 0)
    calls = Call.objects.for_company(company)
    assert calls.count() == 20
    assert Operator.objects.for_company(company).filter(pbx_extension="101").exists()
    answered = calls.filter(talk_seconds__gt=0)
    assert set(answered.values_list("status", flat=True)) == {CallStatus.NEW}
    assert set(calls.filter(talk_seconds=0).values_list("status", flat=True)) <= {CallStatus.SKIPPED}
    assert all(c.customer_phone.startswith("+998") for c in calls)
    account = _account(three_days)
    assert run.window_to - run.window_from == dt.timedelta(days=3)  # the backfill
    assert account.sync_cursor == run.window_to
    assert account.last_success_at is not None and account.last_error == ""


def test_pbx_sync_company_resync_of_same_window_writes_nothing(pbx_fake, one_day, company):
    pbx_fake.add_calls_generated(15, start=timezone.now() - dt.timedelta(hours=5), spacing_seconds=600)
    pbx_sync_company(company_id=company.pk)
    before = dict(Call.objects.for_company(company).values_list("id", "updated_at"))
    PbxAccount.objects.filter(pk=one_day.pk).update(sync_cursor=None)  # read the whole backfill again
    run = pbx_sync_company(company_id=company.pk)
    assert (run.fetched, run.created, run.updated, run.skipped) == (15, 0, 0, 15)
    assert dict(Call.objects.for_company(company).values_list("id", "updated_at")) == before


def test_pbx_sync_company_incremental_sync_rereads_overlap_without_duplicates(pbx_fake, one_day, company, now):
    first_until = now - dt.timedelta(hours=3)
    for minutes_before in (150, 40, 10):  # the last two lie inside the 60-minute overlap
        pbx_fake.add_call(started_at=first_until - dt.timedelta(minutes=minutes_before), duration_seconds=60)
    pbx_sync_company(company_id=company.pk, until=first_until)
    assert _account(one_day).sync_cursor == first_until
    pbx_fake.add_call(started_at=first_until + dt.timedelta(minutes=30), duration_seconds=60)
    log_mark = len(pbx_fake.requests_log)

    run = pbx_sync_company(company_id=company.pk, until=now)

    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert run.window_from == first_until - dt.timedelta(minutes=60)
    assert _search_windows(pbx_fake, log_mark) == [(int(run.window_from.timestamp()), int(now.timestamp()))]
    assert (run.fetched, run.created, run.updated, run.skipped) == (3, 1, 0, 2)
    assert Call.objects.for_company(company).count() == 4
    assert _account(one_day).sync_cursor == now


def test_pbx_sync_company_catches_call_listed_late_inside_overlap(pbx_fake, one_day, company, now):
    first_until = now - dt.timedelta(hours=2)
    pbx_fake.add_call(started_at=first_until - dt.timedelta(hours=5))
    pbx_sync_company(company_id=company.pk, until=first_until)
    # The PBX lists a call only once it has ended: this one started 20 minutes before the cursor.
    late = pbx_fake.add_call(started_at=first_until - dt.timedelta(minutes=20), duration_seconds=900)

    run = pbx_sync_company(company_id=company.pk, until=now)

    assert (run.created, run.skipped) == (1, 0)
    assert Call.objects.for_company(company).filter(pbx_call_id=late["uuid"]).exists()
    assert Call.objects.for_company(company).count() == 2


def test_pbx_sync_company_changed_call_becomes_new_and_gets_its_recording(
    pbx_fake, one_day_with_recordings, company, now, django_capture_on_commit_callbacks
):
    record = pbx_fake.add_call(started_at=now - dt.timedelta(minutes=30), duration_seconds=40, talk_seconds=0)
    first = pbx_sync_company(company_id=company.pk, until=now - dt.timedelta(minutes=5))
    call = Call.objects.for_company(company).get(pbx_call_id=record["uuid"])
    assert (first.created, call.status, call.talk_seconds) == (1, CallStatus.SKIPPED, 0)
    # The PBX corrects the record (answered after all) and now has its recording.
    pbx_fake.calls[record["uuid"]]["user_talk_time"] = 30
    pbx_fake.recordings[record["uuid"]] = RECORDING.read_bytes()

    with django_capture_on_commit_callbacks() as callbacks:
        run = pbx_sync_company(company_id=company.pk, until=now)
    call.refresh_from_db()
    assert call.status == CallStatus.NEW  # the download is queued only once the page is committed
    for callback in callbacks:
        callback()  # commit: the (eager) recording task runs

    assert (run.created, run.updated, run.skipped) == (0, 1, 0)
    call.refresh_from_db()
    assert call.talk_seconds == 30
    assert call.status == CallStatus.RECORDING_STORED, call.failure_reason
    assert call.recording.name.startswith(f"recordings/{company.pk}/")


def test_pbx_sync_company_history_only_account_queues_no_recordings(
    pbx_fake, one_day, company, now, django_capture_on_commit_callbacks
):
    pbx_fake.add_call(started_at=now - dt.timedelta(minutes=30), recording=RECORDING.read_bytes())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = pbx_sync_company(company_id=company.pk, until=now)
    assert run.created == 1
    # Nothing is queued for the call (the only after-commit work is the dashboard rollups' refresh of the new call).
    queued = [
        cb for cb in callbacks if getattr(getattr(cb, "__self__", None), "__module__", "") != "analytics.services"
    ]
    assert queued == []
    assert Call.objects.for_company(company).get().status == CallStatus.NEW
    assert not any("download" in form for _, form in pbx_fake.requests_log)


# --- what the PBX says about who and whom -----------------------------------------------------------------------------


def test_pbx_sync_company_takes_inbound_operator_from_answered_event(pbx_fake, one_day, company, now):
    start = int((now - dt.timedelta(hours=1)).timestamp())
    answered = pbx_fake.add_call(
        direction="inbound",
        operator_ext="104",
        customer_phone="998935551234",
        started_at=start,
        events=[
            {"type": "transfer", "timestamp": start, "number": "998712000000"},
            # 102 rang first and did not pick up; 104 answered.
            {"type": "user", "timestamp": start + 1, "number": "102", "end_stamp": start + 9},
            {
                "type": "user",
                "timestamp": start + 9,
                "number": "104",
                "answered_stamp": start + 12,
                "end_stamp": start + 90,
            },
        ],
    )
    missed = pbx_fake.add_call(
        direction="inbound", operator_ext=None, customer_phone="998935550000", started_at=start + 600
    )

    pbx_sync_company(company_id=company.pk, until=now)

    call = Call.objects.for_company(company).select_related("operator").get(pbx_call_id=answered["uuid"])
    assert call.direction == Direction.INBOUND
    assert call.operator.pbx_extension == "104"
    assert call.customer_phone == "+998935551234"  # the caller, not the dialled line
    unanswered = Call.objects.for_company(company).get(pbx_call_id=missed["uuid"])
    assert (unanswered.operator_id, unanswered.status) == (None, CallStatus.SKIPPED)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("998901234567", "+998901234567"),
        ("+998901234567", "+998901234567"),
        ("901234567", "+998901234567"),
        ("+998 (90) 123-45-67", "+998901234567"),
        ("89161234567", "+79161234567"),
        ("105", ""),  # an internal extension, not a customer number
    ],
)
def test_pbx_sync_company_normalises_phone_and_keeps_raw(pbx_fake, one_day, company, now, raw, e164):
    record = pbx_fake.add_call(customer_phone=raw, started_at=now - dt.timedelta(hours=1))
    pbx_sync_company(company_id=company.pk, until=now)
    call = Call.objects.for_company(company).get(pbx_call_id=record["uuid"])
    assert (call.customer_phone, call.customer_phone_raw) == (e164, raw)


# --- session keys -----------------------------------------------------------------------------------------------------


def test_pbx_sync_company_reauthenticates_once_when_key_rejected_between_windows(pbx_fake, one_day, company, now):
    for hours in (22, 16, 10, 4):  # one call in each 6-hour window
        pbx_fake.add_call(started_at=now - dt.timedelta(hours=hours))
    _let_next_search_through(pbx_fake)
    pbx_fake.fail_next(1, "not_auth", path_contains=SEARCH)  # the second window's request

    run = pbx_sync_company(company_id=company.pk, until=now)

    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert pbx_fake.auth_count == 2  # the first auth.json, then exactly one more
    assert Call.objects.for_company(company).count() == 4


def test_pbx_sync_company_expired_keys_are_renewed_and_kept(pbx_fake, one_day, company, now):
    pbx_fake.add_call(started_at=now - dt.timedelta(hours=5))
    pbx_sync_company(company_id=company.pk, until=now - dt.timedelta(hours=2))
    old_key_id = _account(one_day).session_key_id
    assert (pbx_fake.auth_count, bool(old_key_id)) == (1, True)
    pbx_fake.expire_keys()
    pbx_fake.add_call(started_at=now - dt.timedelta(hours=1))

    run = pbx_sync_company(company_id=company.pk, until=now)

    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert pbx_fake.auth_count == 2
    assert _account(one_day).session_key_id not in ("", old_key_id)  # the next sync starts with the fresh pair
    assert Call.objects.for_company(company).count() == 2
    pbx_sync_company(company_id=company.pk, until=now)
    assert pbx_fake.auth_count == 2


# --- failures ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "error_prefix"),
    [
        ("http500", "PbxUnavailable: OnlinePBX answered HTTP 500"),
        ("malformed_json", "PbxBadResponse: OnlinePBX answered mongo_history/search.json with HTTP 200 and something"),
        ("garbage", "PbxBadResponse: OnlinePBX answered mongo_history/search.json with HTTP 200 and something"),
        ("status0", "PbxBadResponse: OnlinePBX refused mongo_history/search.json: no error code given"),
    ],
)
def test_pbx_sync_company_failure_keeps_calls_and_next_run_recovers(
    pbx_fake, one_day, company, now, mode, error_prefix
):
    first_until = now - dt.timedelta(hours=3)
    pbx_fake.add_call(started_at=first_until - dt.timedelta(hours=4))
    pbx_fake.add_call(started_at=first_until - dt.timedelta(hours=2))
    pbx_sync_company(company_id=company.pk, until=first_until)
    stored = _snapshot(company)
    late = pbx_fake.add_call(started_at=first_until + dt.timedelta(hours=1))
    pbx_fake.fail_next(1, mode, path_contains=SEARCH)

    failed = pbx_sync_company(company_id=company.pk, until=now)

    assert failed.status == SyncStatus.FAILED
    assert failed.error.startswith(error_prefix), failed.error
    account = _account(one_day)
    assert account.last_error == failed.error
    assert account.last_error_at is not None
    assert account.sync_cursor == first_until
    assert account.lease_until is None  # released: the next run does not wait 15 minutes
    assert _snapshot(company) == stored

    recovered = pbx_sync_company(company_id=company.pk, until=now)

    assert recovered.status == SyncStatus.SUCCEEDED, recovered.error
    assert _account(one_day).last_error == ""
    assert Call.objects.for_company(company).filter(pbx_call_id=late["uuid"]).exists()
    assert Call.objects.for_company(company).count() == 3


def test_pbx_sync_company_unreachable_pbx_fails_readably(pbx_fake, one_day, company, now):
    pbx_fake.stop()  # nothing listens on the account's port any more
    run = pbx_sync_company(company_id=company.pk, until=now)
    assert run.status == SyncStatus.FAILED
    assert run.error.startswith("PbxUnavailable: Cannot connect to OnlinePBX"), run.error
    assert _account(one_day).last_error == run.error


def test_pbx_sync_company_pbx_timeout_fails_readably(pbx_fake, one_day, company, now, settings):
    settings.DIALIX_PBX_TIMEOUT_SECONDS = 0.2
    pbx_fake.add_call(started_at=now - dt.timedelta(hours=1))
    pbx_fake.timeout_sleep_seconds = 1
    pbx_fake.fail_next(1, "timeout", path_contains=SEARCH)
    run = pbx_sync_company(company_id=company.pk, until=now)
    assert run.status == SyncStatus.FAILED
    assert run.error.startswith("PbxUnavailable: OnlinePBX did not answer"), run.error


def test_pbx_sync_company_dying_halfway_keeps_committed_windows_and_rerun_continues(pbx_fake, one_day, company, now):
    since = now - dt.timedelta(days=1)
    first_window_end = since + dt.timedelta(hours=6)
    starts = {
        "w1-early": since + dt.timedelta(hours=1),
        "w1-late": first_window_end - dt.timedelta(minutes=30),  # inside the overlap the rerun reads again
        "w2": since + dt.timedelta(hours=8),
        "w3": since + dt.timedelta(hours=14),
        "w4": since + dt.timedelta(hours=20),
    }
    uuids = {name: pbx_fake.add_call(started_at=at)["uuid"] for name, at in starts.items()}
    _let_next_search_through(pbx_fake)
    pbx_fake.fail_next(1, "http500", path_contains=SEARCH)

    failed = pbx_sync_company(company_id=company.pk, until=now)

    assert failed.status == SyncStatus.FAILED
    assert failed.error.startswith("PbxUnavailable"), failed.error
    assert (failed.fetched, failed.created) == (2, 2)
    assert _account(one_day).sync_cursor == first_window_end
    stored = set(Call.objects.for_company(company).values_list("pbx_call_id", flat=True))
    assert stored == {uuids["w1-early"], uuids["w1-late"]}
    log_mark = len(pbx_fake.requests_log)

    rerun = pbx_sync_company(company_id=company.pk, until=now)

    assert rerun.status == SyncStatus.SUCCEEDED, rerun.error
    assert rerun.window_from == first_window_end - dt.timedelta(minutes=60)
    assert _search_windows(pbx_fake, log_mark)[0][0] == int(rerun.window_from.timestamp())
    assert (rerun.created, rerun.skipped) == (3, 1)
    assert set(Call.objects.for_company(company).values_list("pbx_call_id", flat=True)) == set(uuids.values())
    assert _account(one_day).sync_cursor == now


# --- one sync at a time -----------------------------------------------------------------------------------------------


def test_pbx_sync_company_skips_while_another_sync_holds_the_lease(pbx_fake, one_day, company, now):
    pbx_fake.add_call(started_at=now - dt.timedelta(hours=1))
    assert pbx_lease_acquire(account_id=one_day.pk)  # another worker is syncing this company

    run = pbx_sync_company(company_id=company.pk, until=now)

    assert run.status == SyncStatus.SKIPPED
    assert run.finished_at is not None
    assert Call.objects.for_company(company).count() == 0
    assert pbx_fake.requests_log == []
    assert _account(one_day).lease_until is not None  # the other worker's lease is left alone


@pytest.mark.django_db(transaction=True)
def test_pbx_sync_company_concurrent_runs_one_reads_other_skips(pbx_fake, one_day, company, now):
    pbx_fake.add_calls_generated(12, start=now - dt.timedelta(hours=20), spacing_seconds=3600)
    pbx_fake.slow_seconds = 0.15  # keeps the first sync busy (6 requests) while the second one starts
    runs: list[SyncRun] = []

    def first_sync() -> None:
        try:
            runs.append(pbx_sync_company(company_id=company.pk, until=now))
        finally:
            connection.close()  # this thread's own database connection

    worker = threading.Thread(target=first_sync)
    worker.start()
    deadline = time.monotonic() + 5
    while not PbxAccount.objects.filter(pk=one_day.pk, lease_until__isnull=False).exists():
        assert time.monotonic() < deadline, "the first sync never took the lease"
        time.sleep(0.02)
    second = pbx_sync_company(company_id=company.pk, until=now)
    worker.join(timeout=20)

    assert second.status == SyncStatus.SKIPPED
    assert (second.fetched, second.created) == (0, 0)
    assert runs[0].status == SyncStatus.SUCCEEDED, runs[0].error
    assert runs[0].created == 12
    assert Call.objects.for_company(company).count() == 12
    assert pbx_fake.auth_count == 1  # the skipped run never talked to the PBX
    assert _account(one_day).lease_until is None


# --- query counts of one page -----------------------------------------------------------------------------------------

_PHONES = ["998901234567", "+998911112233", "933334455", "89161234567", "998971234567"]


def _pbx_calls(n: int, *, start: dt.datetime, prefix: str = "call") -> list[PbxCall]:
    calls = []
    for i in range(n):
        started = start + dt.timedelta(minutes=i)
        answered = i % 4 != 3
        calls.append(
            PbxCall(
                pbx_call_id=f"{prefix}-{i:05d}",
                direction="inbound" if i % 2 else "outbound",
                operator_ext=str(101 + i % 5) if answered or i % 2 == 0 else None,
                customer_phone_raw=_PHONES[i % len(_PHONES)],
                started_at=started,
                ended_at=started + dt.timedelta(seconds=90),
                duration_seconds=90,
                talk_seconds=75 if answered else 0,
                hangup_cause="NORMAL_CLEARING" if answered else "NO_ANSWER",
            )
        )
    return calls


@pytest.fixture
def pbx_operators(company) -> None:
    operators_upsert_from_pbx(
        company=company,
        operators=[PbxOperator(pbx_user_id=str(ext), name=f"Op {ext}", is_active=True) for ext in range(101, 106)],
    )


@pytest.mark.parametrize("size", [5, 200])
def test_calls_upsert_from_pbx_new_page_query_count_is_constant(
    company, pbx_operators, django_assert_num_queries, now, size
):
    calls = _pbx_calls(size, start=now - dt.timedelta(days=1))
    # 1 operator ids by extension, 2 existing calls of the page, 3 one INSERT of the new calls,
    # 4 ids and states of the rows inserted (answered ones' recordings are queued after commit), 5 one INSERT of their
    # first history step.
    with django_assert_num_queries(5):
        result = calls_upsert_from_pbx(company=company, calls=calls)
    assert (result.created, result.updated, result.unchanged) == (size, 0, 0)
    assert len(result.fetch_recording_ids) == sum(1 for c in calls if c.talk_seconds > 0)
    assert Call.objects.for_company(company).count() == size


@pytest.mark.parametrize("size", [5, 200])
def test_calls_upsert_from_pbx_reread_page_query_count_is_constant(
    company, pbx_operators, django_assert_num_queries, now, size
):
    stored = _pbx_calls(size, start=now - dt.timedelta(days=1))
    calls_upsert_from_pbx(company=company, calls=stored)
    page = list(stored)
    unanswered = next(i for i, c in enumerate(page) if c.talk_seconds == 0)
    page[unanswered] = dataclasses.replace(page[unanswered], talk_seconds=30)  # answered after all: SKIPPED -> NEW
    page[0] = dataclasses.replace(page[0], hangup_cause="USER_BUSY")  # a corrected field
    page += _pbx_calls(size, start=now - dt.timedelta(hours=12), prefix="fresh")
    # 1 operator ids, 2 existing calls of the page (with every field compared or written back), 3 one INSERT of the
    # new calls, 4 ids and states of the rows inserted, 5 one INSERT of their first history step, 6 one UPDATE of the
    # changed calls' PBX fields, 7-11 the transition moving the one answered-after-all call back to NEW (savepoint,
    # the row locked if still SKIPPED, its UPDATE, its history row, release; one per such call: rare, and never a
    # blind write of a status read earlier); unchanged calls are not written.
    with django_assert_num_queries(11):
        result = calls_upsert_from_pbx(company=company, calls=page)
    assert (result.created, result.updated, result.unchanged) == (size, 2, size - 2)


# --- late and long calls; records the parser rejects -----------------------------------------------------------------


def test_pbx_sync_company_reads_a_two_hour_call_the_pbx_lists_only_after_it_ended(pbx_fake, one_day, company, now):
    first_until = now - dt.timedelta(minutes=30)
    pbx_sync_company(company_id=company.pk, until=first_until)  # this sync's cursor passes the long call's start
    # Started 110 minutes before that sync and ended 10 minutes after it: the PBX lists it only now.
    long_call = pbx_fake.add_call(started_at=first_until - dt.timedelta(minutes=110), duration_seconds=2 * 3600)

    run = pbx_sync_company(company_id=company.pk, until=now)

    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert run.created == 1
    call = Call.objects.for_company(company).get(pbx_call_id=long_call["uuid"])
    assert call.duration_seconds == 2 * 3600
    assert call.ended_at - call.started_at == dt.timedelta(hours=2)


def test_pbx_sync_company_skips_a_record_the_parser_rejects_counts_it_and_moves_the_cursor(
    pbx_fake, one_day, company, now, supervisor_client
):
    good = [pbx_fake.add_call(started_at=now - dt.timedelta(hours=hours))["uuid"] for hours in (3, 2)]
    bad = pbx_fake.add_call(started_at=now - dt.timedelta(minutes=30), accountcode="sideways")  # in the overlap

    run = pbx_sync_company(company_id=company.pk, until=now)

    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert (run.fetched, run.created, run.rejected) == (2, 2, 1)
    reason = f"OnlinePBX call {bad['uuid']} has an unknown direction (accountcode)"
    assert SyncRun.objects.get(pk=run.pk).rejected_records == [{"uuid": bad["uuid"], "reason": reason}]
    assert set(Call.objects.for_company(company).values_list("pbx_call_id", flat=True)) == set(good)
    assert _account(one_day).sync_cursor == now  # the window is committed: the bad record never blocks it
    listing = supervisor_client.get("/admin/integrations/syncrun/").content.decode()
    assert '<td class="field-rejected">1</td>' in listing
    page = supervisor_client.get(f"/admin/integrations/syncrun/{run.pk}/change/").content.decode()
    assert bad["uuid"] in page and "has an unknown direction (accountcode)" in page
    assert "998901234567" not in page  # the record's own content is never shown

    again = pbx_sync_company(company_id=company.pk, until=now + dt.timedelta(minutes=5))  # re-read in the overlap

    assert (again.status, again.rejected) == (SyncStatus.SUCCEEDED, 1)
    assert _account(one_day).sync_cursor == now + dt.timedelta(minutes=5)
