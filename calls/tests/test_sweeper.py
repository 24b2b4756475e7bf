"""Nothing stranded: the sweeper re-queues calls that sat in a non-terminal state past their step's limit, once, on
any number of machines, and gives up on a call it keeps finding stuck."""

import datetime as dt
import importlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from calls.models import Call, CallEvent, CallSource, CallStatus, Direction, FailureCode
from calls.services.sweeper import BY, MAX_REQUEUES, calls_sweep
from calls.tests.factories import CallFactory
from dialix.celery import app as celery_app

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
STEREO_MP3 = FIXTURES / "calls" / "en-01-sale.stereo8k.mp3"
LONG_AGO = dt.timedelta(hours=2)


def _age(call: Call, age: dt.timedelta) -> Call:
    """The call was last touched `age` ago (its message was lost then)."""
    Call.objects.filter(pk=call.pk).update(updated_at=timezone.now() - age)
    call.refresh_from_db()
    return call


def _sweeps(call: Call) -> list[CallEvent]:
    return list(CallEvent.objects.filter(call=call, actor=BY).order_by("id"))


@pytest.fixture
def queued(settings) -> Iterator[Callable[[str], list[tuple[str, int]]]]:
    """Tasks go to this session's RabbitMQ queues (no worker): read(kind) takes the (task, call id) messages there."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False

    queues = {queue.name: queue for queue in celery_app.conf.task_queues}
    with celery_app.connection_for_write() as conn:
        for queue in queues.values():  # declared now: another module's worker may have deleted them
            queue(conn.default_channel).declare()

    def read(kind: str) -> list[tuple[str, int]]:
        found = []
        with celery_app.connection_for_read() as conn:
            bound = queues[f"{settings.DIALIX_TASK_QUEUE_PREFIX}{kind}"](conn.default_channel)
            while (message := bound.get(no_ack=True)) is not None:
                found.append((message.headers["task"].rsplit(".", 1)[-1], message.decode()[0][0]))
        return found

    try:
        yield read
    finally:
        celery_app.conf.task_always_eager = True
        for kind in ("recordings", "stt", "analysis"):
            read(kind)


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# --- NEW: a PBX call whose download message was lost ------------------------------------------------------------------


def test_a_pbx_call_left_new_gets_its_recording_and_a_second_sweep_does_nothing(
    pbx_fake, pbx_account, company, media_root, django_capture_on_commit_callbacks
):
    record = pbx_fake.add_call(started_at=timezone.now() - LONG_AGO, recording=STEREO_MP3.read_bytes())
    call = CallFactory(
        company=company, operator=None, pbx_call_id=record["uuid"], direction=Direction.OUTBOUND, talk_seconds=40
    )
    _age(call, dt.timedelta(minutes=31))  # the broker was down when its sync page committed

    with django_capture_on_commit_callbacks(execute=True):
        result = calls_sweep()

    call.refresh_from_db()
    assert result.requeued == 1
    assert call.status == CallStatus.RECORDING_STORED and call.recording
    [event] = _sweeps(call)
    assert (event.from_status, event.to_status) == (CallStatus.NEW, CallStatus.NEW)
    assert "31 min in new waiting for its recording download" in event.reason

    with django_capture_on_commit_callbacks(execute=True):
        again = calls_sweep()
    assert again.total == 0 and len(_sweeps(call)) == 1


def test_calls_not_yet_past_the_limit_or_not_waiting_for_a_download_are_left_alone(pbx_account, company, queued):
    recent = _age(CallFactory(company=company, talk_seconds=60), dt.timedelta(minutes=10))
    upload = _age(CallFactory(company=company, talk_seconds=60, source=CallSource.UPLOAD), LONG_AGO)
    done = _age(CallFactory(company=company, status=CallStatus.DONE), LONG_AGO)
    failed = _age(
        CallFactory(company=company, status=CallStatus.FAILED, failure_code=FailureCode.RECORDING_INVALID), LONG_AGO
    )

    assert calls_sweep().total == 0
    assert queued("recordings") == []
    for call in (recent, upload, done, failed):
        assert _sweeps(call) == []


def test_a_company_that_does_not_fetch_recordings_keeps_its_new_calls_untouched(pbx_account, company, queued):
    pbx_account.fetch_recordings = False
    pbx_account.save(update_fields=["fetch_recordings"])
    call = _age(CallFactory(company=company, talk_seconds=60), LONG_AGO)

    assert calls_sweep().total == 0
    assert _sweeps(call) == [] and queued("recordings") == []


# --- RECORDING_STORED and TRANSCRIBED: a lost step message ------------------------------------------------------------


def test_stored_recordings_rest_when_automatic_transcription_is_off(company, queued, settings):
    settings.DIALIX_AUTO_TRANSCRIBE = False
    call = _age(CallFactory(company=company, status=CallStatus.RECORDING_STORED), LONG_AGO)

    assert calls_sweep().total == 0
    assert _sweeps(call) == []


@pytest.mark.parametrize(
    ("status", "kind", "task", "auto"),
    [
        (CallStatus.RECORDING_STORED, "stt", "call_transcribe_task", "DIALIX_AUTO_TRANSCRIBE"),
        (CallStatus.TRANSCRIBED, "analysis", "call_analyse_task", "DIALIX_AUTO_ANALYSE"),
    ],
)
def test_a_call_waiting_for_a_lost_step_message_is_queued_once(
    company, queued, settings, django_capture_on_commit_callbacks, status, kind, task, auto
):
    setattr(settings, auto, True)
    call = _age(CallFactory(company=company, status=status), dt.timedelta(minutes=40))

    with django_capture_on_commit_callbacks(execute=True):
        first = calls_sweep()
    with django_capture_on_commit_callbacks(execute=True):
        second = calls_sweep()

    call.refresh_from_db()
    assert (first.requeued, second.total) == (1, 0)
    assert call.status == status
    assert queued(kind) == [(task, call.pk)]  # one message, not one per sweep
    assert [(e.from_status, e.to_status) for e in _sweeps(call)] == [(status, status)]


# --- TRANSCRIBING and ANALYSING: a worker died holding the claim ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "back_to", "kind", "task"),
    [
        (CallStatus.TRANSCRIBING, CallStatus.RECORDING_STORED, "stt", "call_transcribe_task"),
        (CallStatus.ANALYSING, CallStatus.TRANSCRIBED, "analysis", "call_analyse_task"),
    ],
)
def test_a_claim_held_past_the_hard_time_limit_is_given_back_and_queued(
    company, queued, settings, django_capture_on_commit_callbacks, status, back_to, kind, task
):
    settings.DIALIX_AUTO_TRANSCRIBE = True
    limit = dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    abandoned = _age(CallFactory(company=company, status=status), limit + dt.timedelta(minutes=6))
    working = _age(CallFactory(company=company, status=status), limit - dt.timedelta(minutes=1))  # may be alive

    with django_capture_on_commit_callbacks(execute=True):
        result = calls_sweep()

    abandoned.refresh_from_db()
    working.refresh_from_db()
    assert result.given_back == 1
    assert abandoned.status == back_to and working.status == status
    [event] = _sweeps(abandoned)
    assert (event.from_status, event.to_status) == (status, back_to)
    assert "its worker stopped, the claim is given back" in event.reason
    assert queued(kind) == [(task, abandoned.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        assert calls_sweep().total == 0


# --- giving up, backing off, bounded work -----------------------------------------------------------------------------


def _swept_before(call: Call, times: int) -> None:
    CallEvent.objects.bulk_create(
        CallEvent(company=call.company, call=call, from_status=call.status, to_status=call.status, actor=BY)
        for _ in range(times)
    )


def test_a_call_the_sweeper_keeps_finding_stuck_is_failed_with_the_reason(company, queued):
    call = CallFactory(company=company, status=CallStatus.TRANSCRIBING)
    _swept_before(call, MAX_REQUEUES)
    _age(call, dt.timedelta(days=30))

    result = calls_sweep()

    call.refresh_from_db()
    assert result.failed == 1
    assert call.status == CallStatus.FAILED and call.failure_code == FailureCode.INTERNAL_ERROR
    assert f"re-queued it {MAX_REQUEUES} times" in call.failure_reason
    assert queued("stt") == []


def test_a_persons_request_starts_the_count_again(company, queued):
    call = CallFactory(company=company, status=CallStatus.TRANSCRIBED)
    _swept_before(call, MAX_REQUEUES)
    CallEvent.objects.create(
        company=company, call=call, from_status=CallStatus.DONE, to_status=CallStatus.TRANSCRIBED, actor="console"
    )
    _age(call, LONG_AGO)

    assert calls_sweep().requeued == 1
    call.refresh_from_db()
    assert call.status == CallStatus.TRANSCRIBED


def test_each_requeue_waits_twice_as_long_as_the_one_before(company, queued):
    call = CallFactory(company=company, status=CallStatus.TRANSCRIBED)
    _swept_before(call, 2)
    _age(call, dt.timedelta(minutes=100))  # the third re-queue waits 30 min * 4 = 2 h: a backlog, not a loss

    assert calls_sweep().total == 0
    _age(call, dt.timedelta(minutes=121))
    assert calls_sweep().requeued == 1


def test_a_sweep_does_a_batch_at_a_time_in_id_order(company, queued):
    calls = [_age(CallFactory(company=company, status=CallStatus.TRANSCRIBED), LONG_AGO) for _ in range(3)]

    assert calls_sweep(batch=2).requeued == 2
    assert [bool(_sweeps(call)) for call in calls] == [True, True, False]
    assert calls_sweep(batch=2).requeued == 1
    assert all(len(_sweeps(call)) == 1 for call in calls)


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_requeue_each_call_once(company, queued, settings):
    settings.DIALIX_AUTO_TRANSCRIBE = True
    limit = dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) + dt.timedelta(minutes=6)
    calls = [_age(CallFactory(company=company, status=CallStatus.TRANSCRIBED), LONG_AGO) for _ in range(15)]
    calls += [_age(CallFactory(company=company, status=CallStatus.ANALYSING), limit) for _ in range(15)]
    results, start = [], threading.Barrier(2)

    def sweeper() -> None:
        start.wait()
        try:
            results.append(calls_sweep())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sum(result.total for result in results) == 30
    assert all(len(_sweeps(call)) == 1 for call in calls)
    assert sorted(call_id for _, call_id in queued("analysis")) == sorted(call.pk for call in calls)


# --- the console and the schedule -------------------------------------------------------------------------------------


def test_the_calls_list_says_how_many_stuck_calls_were_requeued(supervisor_client, company, other_company, queued):
    for _ in range(2):
        _age(CallFactory(company=company, status=CallStatus.TRANSCRIBED), LONG_AGO)
    _age(CallFactory(company=other_company, status=CallStatus.TRANSCRIBED), LONG_AGO)
    calls_sweep()

    page = supervisor_client.get("/admin/calls/call/").content.decode()

    assert "2 stuck calls re-queued in the last 24 h" in page  # the other company's call is not counted


def test_the_calls_list_shows_no_banner_when_nothing_was_stuck(supervisor_client, company):
    CallFactory(company=company, status=CallStatus.DONE)
    assert "stuck call" not in supervisor_client.get("/admin/calls/call/").content.decode()


def test_beat_runs_the_sweeper_and_closes_stale_sync_runs_from_a_global_entry():
    migration = importlib.import_module("calls.migrations.0007_sweeper_beat_entries")
    names = ["calls-sweep", "sync-runs-close-stale"]

    entries = {task.name: task for task in PeriodicTask.objects.filter(name__in=names)}  # made by migrate
    assert entries["calls-sweep"].task == "calls.tasks.calls_sweep_task"
    assert (entries["calls-sweep"].interval.every, entries["calls-sweep"].interval.period) == (1, "minutes")
    assert entries["sync-runs-close-stale"].task == "calls.tasks.pbx_sync_runs_close_stale_task"
    assert all(task.enabled and task.task in celery_app.tasks for task in entries.values())

    migration.create_entries(django_apps, None)  # idempotent
    assert PeriodicTask.objects.filter(name__in=names).count() == 2
    migration.remove_entries(django_apps, None)  # reversible
    assert not PeriodicTask.objects.filter(name__in=names).exists()
