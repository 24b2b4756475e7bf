"""Task wiring: the schedule a company gets, retries of transient PBX errors, and a real worker on RabbitMQ."""

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from calls.models import Call, CallStatus, Direction
from calls.tasks import call_fetch_recording_task, pbx_sync_company_task
from calls.tests.factories import CallFactory
from dialix.celery import app as celery_app
from integrations.models import PbxAccount, SyncRun, SyncStatus
from integrations.services import pbx_account_delete, pbx_account_save

RECORDING = Path(__file__).resolve().parents[2] / "fixtures" / "calls" / "en-02-complaint.stereo8k.mp3"
DOWNLOAD = "/calls-records/download/"


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _wait_for(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up after {seconds} s waiting for {what}"
        time.sleep(0.1)


def _downloads(pbx_fake) -> int:
    return sum(1 for path, _ in pbx_fake.requests_log if path.startswith(DOWNLOAD))


def _waiting_call(pbx_fake, company) -> Call:
    record = pbx_fake.add_call(started_at=timezone.now() - dt.timedelta(hours=1), recording=RECORDING.read_bytes())
    return CallFactory(
        company=company,
        operator=None,
        pbx_call_id=record["uuid"],
        direction=Direction.OUTBOUND,
        talk_seconds=record["user_talk_time"],  # the fake's talk time is the recording's length
    )


# --- queues by kind (issue 9, finding 10) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "kind"),
    [
        ("calls.tasks.pbx_sync_company_task", "pbx"),
        ("calls.tasks.pbx_fetch_call_task", "pbx"),
        ("calls.tasks.call_fetch_recording_task", "recordings"),
        ("calls.tasks.call_transcribe_task", "stt"),
        ("calls.tasks.call_analyse_task", "analysis"),
    ],
)
def test_each_kind_of_task_has_its_own_queue_and_a_plain_worker_consumes_them_all(task, kind):
    # A worker takes from its queues in turn, so an analysis never waits behind a backlog of transcriptions.
    prefix = celery_app.conf.task_default_queue.removesuffix("default")
    queue = celery_app.amqp.router.route({}, task)["queue"].name
    assert queue == f"{prefix}{kind}" and prefix.startswith("dialix-test-")  # tests stay on queues of their own
    assert queue in celery_app.amqp.queues  # consumed by a worker started without -Q, like the test worker
    # One binding per queue: a message routed to one queue is never copied into the others (and run twice).
    bindings = {(q.exchange.name, q.routing_key) for q in celery_app.amqp.queues.values()}
    assert len(bindings) == len(celery_app.amqp.queues) == 6


# --- the company's own schedule ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pbx_account_save_schedules_company_sync(pbx_account, company):
    task = PeriodicTask.objects.get(name=f"pbx-sync-{company.pk}")
    assert task.task == "calls.tasks.pbx_sync_company_task"
    assert task.task in celery_app.tasks  # beat would otherwise send a name no worker knows
    assert json.loads(task.args) == [company.pk]
    assert (task.interval.every, task.interval.period) == (pbx_account.sync_interval_minutes, IntervalSchedule.MINUTES)
    assert task.enabled


@pytest.mark.django_db
def test_pbx_account_save_moves_schedule_to_new_interval(pbx_account, company):
    before = PeriodicTask.objects.get(name=f"pbx-sync-{company.pk}")
    account = PbxAccount.objects.get(pk=pbx_account.pk)  # as the admin form would load it
    account.sync_interval_minutes = 17
    pbx_account_save(account=account)

    after = PeriodicTask.objects.get(name=f"pbx-sync-{company.pk}")
    assert after.pk == before.pk
    assert (after.interval.every, after.interval.period) == (17, IntervalSchedule.MINUTES)
    assert PeriodicTask.objects.filter(name__startswith="pbx-sync-").count() == 1


@pytest.mark.django_db
def test_pbx_account_save_disables_schedule_of_disabled_account(pbx_account, company):
    pbx_account.is_enabled = False
    pbx_account_save(account=pbx_account)
    assert not PeriodicTask.objects.get(name=f"pbx-sync-{company.pk}").enabled


@pytest.mark.django_db
def test_pbx_account_delete_removes_schedule(pbx_account, company, other_company):
    other = pbx_account_save(
        account=PbxAccount(company=other_company, domain="pbx-bravo.onpbx.ru", api_key="bravo-key")
    )
    pbx_account_delete(account=pbx_account)
    assert not PeriodicTask.objects.filter(name=f"pbx-sync-{company.pk}").exists()
    assert not PbxAccount.objects.filter(pk=pbx_account.pk).exists()
    assert PeriodicTask.objects.filter(name=other.periodic_task_name).exists()  # the other company keeps its own


# --- retries (eager: Celery re-runs a retried task at once, ignoring the countdown) -----------------------------------


@pytest.mark.django_db
def test_call_fetch_recording_task_retries_pbx_500_then_stores(
    eager_retries, pbx_fake, pbx_account, company, media_root
):
    call = _waiting_call(pbx_fake, company)
    pbx_fake.fail_next(2, "http500", path_contains=DOWNLOAD)

    call_fetch_recording_task.delay(call.pk)

    call.refresh_from_db()
    assert call.status == CallStatus.RECORDING_STORED, call.failure_reason
    assert _downloads(pbx_fake) == 3


@pytest.mark.django_db
def test_call_fetch_recording_task_gives_up_after_max_retries(eager_retries, pbx_fake, pbx_account, company):
    call = _waiting_call(pbx_fake, company)
    attempts = call_fetch_recording_task.max_retries + 1
    pbx_fake.fail_next(attempts, "http500", path_contains=DOWNLOAD)

    call_fetch_recording_task.delay(call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code, call.attempts) == (CallStatus.FAILED, "recording_unavailable", attempts)
    assert call.failure_reason.startswith(f"The PBX did not deliver the recording after {attempts} attempts")
    assert _downloads(pbx_fake) == attempts


# --- a real worker ----------------------------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_pbx_sync_company_task_on_worker_stores_calls_and_fetches_recordings(
    live_worker, pbx_fake, pbx_account, company, media_root
):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(backfill_days=1)
    now = timezone.now()
    answered = [
        pbx_fake.add_call(started_at=now - dt.timedelta(hours=h), recording=RECORDING.read_bytes())["uuid"]
        for h in (9, 5, 2)
    ]
    missed = pbx_fake.add_call(
        direction="inbound", operator_ext=None, customer_phone="998935550000", started_at=now - dt.timedelta(hours=3)
    )

    pbx_sync_company_task.delay(company.pk)

    stored = Call.objects.for_company(company).filter(pbx_call_id__in=answered, status=CallStatus.RECORDING_STORED)
    _wait_for(lambda: stored.count() == 3, seconds=15, what="three recordings stored by the worker")
    run = SyncRun.objects.for_company(company).get()
    assert (run.status, run.created) == (SyncStatus.SUCCEEDED, 4)
    assert Call.objects.for_company(company).get(pbx_call_id=missed["uuid"]).status == CallStatus.SKIPPED
    assert _downloads(pbx_fake) == 3
    assert all(c.recording.name.startswith(f"recordings/{company.pk}/") for c in stored)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_call_fetch_recording_task_on_worker_retries_rate_limit_then_stores(
    live_worker, pbx_fake, pbx_account, company, media_root
):
    call = _waiting_call(pbx_fake, company)
    # The fake's 429 carries Retry-After: 7, which the task uses as its countdown: one retry through the broker.
    pbx_fake.fail_next(1, "http429", path_contains=DOWNLOAD)

    call_fetch_recording_task.delay(call.pk)

    _wait_for(lambda: _downloads(pbx_fake) >= 1, seconds=5, what="the first download attempt")
    call.refresh_from_db()
    assert (call.status, call.attempts) == (CallStatus.NEW, 1)  # waiting for its retry, not failed
    stored = Call.objects.filter(pk=call.pk, status=CallStatus.RECORDING_STORED)
    _wait_for(stored.exists, seconds=15, what="the retried download")
    assert _downloads(pbx_fake) == 2


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_sync_now_shows_its_run_at_once_and_the_worker_completes_that_run(
    live_worker, pbx_fake, pbx_account, company, media_root, supervisor_client
):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(backfill_days=1, fetch_recordings=False)
    pbx_fake.add_call(started_at=timezone.now() - dt.timedelta(hours=2))

    response = supervisor_client.post(
        "/admin/integrations/pbxaccount/", {"action": "sync_now", "_selected_action": [pbx_account.pk]}
    )

    assert response.status_code == 302
    # Listed as soon as the action answers (Queued until the worker takes it), not only once its turn comes.
    run = SyncRun.objects.for_company(company).get()
    assert run.kind == "manual" and run.status in (SyncStatus.QUEUED, SyncStatus.RUNNING, SyncStatus.SUCCEEDED)
    done = SyncRun.objects.filter(pk=run.pk, status=SyncStatus.SUCCEEDED)
    _wait_for(done.exists, seconds=15, what="the worker to complete the queued run")
    assert SyncRun.objects.for_company(company).count() == 1 and done.get().created == 1
