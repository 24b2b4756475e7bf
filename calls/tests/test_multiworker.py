"""The whole pipeline on two worker processes, as on two machines: fake PBX -> recording -> offline STT -> analysis.

Each worker is a real `celery -A dialix worker` process on the production settings (dialix.settings.base), configured
only by its environment as a machine of its own would be: this test's PostgreSQL database, RabbitMQ, Redis, the
session's queue prefix, one media folder standing in for the bucket. One consumes everything but speech, the other
only `stt`; the STT worker is killed (SIGKILL, the whole process group) while it transcribes, and a fresh one starts.
RabbitMQ gives the unacknowledged message (acks_late) back, marked redelivered, and the fresh worker takes over the
dead one's claim (calls.services.transcription._take_over_lost_claim); the sweeper is not needed for this.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from calls.models import Call, CallEvent, CallStatus, Transcript
from calls.services.analysis import versions_for_call
from calls.tasks import pbx_sync_company_task
from checklists.demo import demo_checklists
from checklists.models import CallAnalysis, Scorecard
from dialix.celery import app as celery_app
from integrations.models import PbxAccount

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "calls"
# (fixture, direction, talk seconds): the PBX's talk time agrees with each recording's own length.
CALLS = [("en-02-complaint", "inbound", 35), ("en-04-information", "inbound", 30)]
PIPELINE_QUEUES = ("pbx", "recordings", "analysis", "crm", "default")


class Worker:
    """One `celery -A dialix worker` process group; its output goes to a log file shown when the test fails."""

    def __init__(self, *, name: str, queues: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        command = [
            *(sys.executable, "-m", "celery", "-A", "dialix", "worker", "-l", "info", "-n", f"{name}@%h"),
            *("-Q", ",".join(queues), "--concurrency=1", "--prefetch-multiplier=1"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ]
        with log.open("ab") as out:
            # A session of its own: killing the group takes the pool child with it, as a machine going down would.
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Warm shutdown (the worker is idle by then), SIGKILL if it does not go within 10 s."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _database_url() -> str:
    db = connection.settings_dict  # pytest-django has pointed it at the test database (test_<name>)
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def workers(transactional_db, tmp_path, pbx_account) -> Iterator[Callable[..., Worker]]:
    """Starts worker processes on demand; stops them all before the test database is flushed."""
    media = tmp_path / "media"
    media.mkdir()
    env = {
        **os.environ,  # the test settings have put the secret and the field encryption keys there
        "DJANGO_SETTINGS_MODULE": "dialix.settings.base",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "REDIS_URL": django_settings.REDIS_URL,
        "DIALIX_TASK_QUEUE_PREFIX": django_settings.DIALIX_TASK_QUEUE_PREFIX,
        "DJANGO_MEDIA_ROOT": str(media),  # the shared bucket of production: both machines see the same files
        "DIALIX_ONLINEPBX_BASE_URL": django_settings.DIALIX_ONLINEPBX_BASE_URL,  # the fake, as pbx_account set it
        "DIALIX_STT_CPU_THREADS": "1",
        "DIALIX_AUTO_TRANSCRIBE": "1",
        "DIALIX_AUTO_ANALYSE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DIALIX_TEST_DB_TAG", None)
    started: list[Worker] = []

    def start(name: str, kinds: tuple[str, ...]) -> Worker:
        queues = [f"{django_settings.DIALIX_TASK_QUEUE_PREFIX}{kind}" for kind in kinds]
        worker = Worker(name=name, queues=queues, env=env, log=tmp_path / f"{name}.log")
        started.append(worker)
        return worker

    celery_app.conf.task_always_eager = False  # this process only sends: the workers run every step
    try:
        yield start
    finally:
        celery_app.conf.task_always_eager = True
        for worker in started:
            worker.stop()
        for worker in started:
            print(f"--- {worker.name} (exit {worker.process.returncode}) ---\n{worker.output()}")
        with celery_app.connection_for_write() as conn:
            for queue in celery_app.conf.task_queues:  # queues are per session; drop what a killed worker left
                conn.default_channel.queue_delete(queue.name)


def _wait_for(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up after {seconds} s waiting for {what}"
        time.sleep(0.1)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_workers_finish_every_call_once_when_the_stt_worker_is_killed_mid_transcription(
    workers, pbx_fake, pbx_account, company, settings
):
    company.name, company.languages = "Dialix Market", ["en"]
    company.save()
    demo_checklists(company)
    PbxAccount.objects.filter(pk=pbx_account.pk).update(backfill_days=1)
    now = timezone.now()
    uuids = [
        pbx_fake.add_call(
            direction=direction,
            started_at=now - dt.timedelta(hours=2 + i),
            duration_seconds=talk + 8,
            talk_seconds=talk,
            recording=(FIXTURES / f"{fixture}.stereo8k.mp3").read_bytes(),
        )["uuid"]
        for i, (fixture, direction, talk) in enumerate(CALLS)
    ]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    workers("pipeline", PIPELINE_QUEUES)
    stt = workers("stt-1", ("stt",))

    pbx_sync_company_task.delay(company.pk)

    calls = Call.objects.for_company(company).filter(pbx_call_id__in=uuids)
    transcribing = calls.filter(status=CallStatus.TRANSCRIBING)
    _wait_for(lambda: transcribing.exists(), seconds=40, what="a call being transcribed by the stt worker")
    victim = transcribing.get()
    time.sleep(0.3)  # into the step: the worker copies the recording, loads the model (~2 s) and recognises
    stt.kill()  # mid-step: the message was not acknowledged (acks_late), so RabbitMQ gives it back, redelivered
    assert Call.objects.get(pk=victim.pk).status == CallStatus.TRANSCRIBING  # the dead worker's claim
    workers("stt-2", ("stt",))  # takes the redelivered message over, claim included

    done = calls.filter(status=CallStatus.DONE)
    _wait_for(lambda: done.count() == len(CALLS), seconds=90, what="both calls analysed after the kill")
    for call in calls:
        assert Transcript.objects.filter(call=call).count() == 1
        assert CallAnalysis.objects.filter(call=call).count() == 1
        versions = versions_for_call(call=call)
        assert versions and Scorecard.objects.filter(call=call).count() == len(versions)
        assert sorted(Scorecard.objects.filter(call=call).values_list("version_id", flat=True)) == sorted(
            v.pk for v in versions
        )
        history = list(CallEvent.objects.filter(call=call).order_by("id").values_list("to_status", flat=True))
        assert history.count(CallStatus.DONE) == 1, history  # done once
    # The interruption shows in the victim's history: claimed, given back by the fresh worker, claimed again, done.
    steps = list(CallEvent.objects.filter(call=victim).order_by("id").values_list("from_status", "to_status", "actor"))
    moves = [(source, to) for source, to, _ in steps]
    assert moves.count((CallStatus.RECORDING_STORED, CallStatus.TRANSCRIBING)) == 2, steps
    given_back = moves.index((CallStatus.TRANSCRIBING, CallStatus.RECORDING_STORED))
    assert moves[given_back + 1 :] == [
        (CallStatus.RECORDING_STORED, CallStatus.TRANSCRIBING),
        (CallStatus.TRANSCRIBING, CallStatus.TRANSCRIBED),
        (CallStatus.TRANSCRIBED, CallStatus.ANALYSING),
        (CallStatus.ANALYSING, CallStatus.DONE),
    ], steps
    assert "lost" in CallEvent.objects.filter(call=victim, to_status=CallStatus.RECORDING_STORED).last().reason
