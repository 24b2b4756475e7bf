"""Shared limits on this machine's real Redis (keys under a prefix of their own), and the in-process fallback."""

import multiprocessing
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings

from integrations.errors import RateLimited, TransientIntegrationError
from integrations.limits import (
    LimitBusy,
    LimitUnavailable,
    LocalLimits,
    RedisLimits,
    limit_mutex,
    limit_rate,
    limit_window,
    limits_backend,
)
from integrations.stt.fake_uzbekvoice import FakeUzbekVoice
from integrations.stt.uzbekvoice import UzbekVoiceStt

REDIS_URL = django_settings.REDIS_URL  # the test settings' Redis (this machine's); keys under a prefix of each test


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test alone; its keys are removed afterwards."""
    value = f"dialix:test:limits:{uuid.uuid4().hex}:"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{value}*"))
    if keys:
        client.delete(*keys)


def _hold_tenant_mutex(prefix: str, rounds: int, log) -> None:
    """A worker on its own connection: takes the tenant's mutex `rounds` times, logging when it enters and leaves."""
    backend = RedisLimits(REDIS_URL, prefix=prefix)
    done = 0
    while done < rounds:
        try:
            with limit_mutex("pbx-download:7", lease_seconds=5, wait_seconds=5, backend=backend):
                log.put(("in", time.monotonic()))
                time.sleep(0.02)
                log.put(("out", time.monotonic()))
            done += 1
        except LimitBusy:
            continue


def test_two_processes_never_hold_the_same_tenants_mutex_at_once(prefix):
    context = multiprocessing.get_context("spawn")
    log = context.Queue()
    workers = [context.Process(target=_hold_tenant_mutex, args=(prefix, 15, log)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    events = sorted((log.get(timeout=5) for _ in range(60)), key=lambda event: event[1])

    inside = 0
    for kind, _ in events:
        inside += 1 if kind == "in" else -1
        assert inside in (0, 1)  # never two holders at once
    assert [kind for kind, _ in events].count("in") == 30  # both did all their downloads


def test_another_tenants_mutex_is_free_meanwhile(prefix):
    backend = RedisLimits(REDIS_URL, prefix=prefix)
    with limit_mutex("pbx-download:1", backend=backend):
        with limit_mutex("pbx-download:2", wait_seconds=0, backend=backend):
            pass
        with pytest.raises(LimitBusy) as caught:
            with limit_mutex("pbx-download:1", wait_seconds=0.2, backend=RedisLimits(REDIS_URL, prefix=prefix)):
                pass
    assert isinstance(caught.value, TransientIntegrationError)  # the task retries later
    assert caught.value.retry_after >= 1
    with limit_mutex("pbx-download:1", wait_seconds=0, backend=backend):  # released on leaving the block
        pass


def test_a_waiting_worker_gets_the_mutex_once_the_holder_leaves(prefix):
    first, second = RedisLimits(REDIS_URL, prefix=prefix), RedisLimits(REDIS_URL, prefix=prefix)
    order = []

    def later() -> None:
        with limit_mutex("pbx-download:1", wait_seconds=5, backend=second):
            order.append("second")

    with limit_mutex("pbx-download:1", backend=first):
        thread = threading.Thread(target=later)
        thread.start()
        time.sleep(0.3)
        order.append("first done")
    thread.join(5)
    assert order == ["first done", "second"]


def test_a_long_holder_keeps_its_lease_and_a_dead_one_loses_it(prefix):
    backend = RedisLimits(REDIS_URL, prefix=prefix)
    with limit_mutex("pbx-download:1", lease_seconds=1, backend=backend):
        time.sleep(1.6)  # past the lease: renewed while held
        with pytest.raises(LimitBusy):
            with limit_mutex("pbx-download:1", wait_seconds=0, backend=backend):
                pass
    # A worker that died holding it (nothing renews, nothing releases): the lease lapses on its own.
    assert backend.mutex_acquire("pbx-download:1", "dead-worker", 1000) == 0
    with pytest.raises(LimitBusy):
        with limit_mutex("pbx-download:1", wait_seconds=0, backend=backend):
            pass
    with limit_mutex("pbx-download:1", wait_seconds=3, backend=backend):
        pass


def test_the_bucket_admits_its_burst_then_its_rate_across_two_clients(prefix):
    clients = [RedisLimits(REDIS_URL, prefix=prefix), RedisLimits(REDIS_URL, prefix=prefix)]
    admitted = 0
    for index in range(10):  # burst of 6, shared: the second client sees the first one's requests
        try:
            limit_rate("crm:portal-1", rate=5, burst=6, backend=clients[index % 2])
            admitted += 1
        except RateLimited as exc:
            assert 0 < exc.retry_after <= 0.2 + 0.01
    assert admitted == 6

    started = time.monotonic()
    for index in range(5):  # then 5 a second: waiting (within the bound) for each token
        limit_rate("crm:portal-1", rate=5, burst=6, wait_seconds=1, backend=clients[index % 2])
    assert 0.7 < time.monotonic() - started < 1.5


def test_a_window_admits_its_limit_in_any_period_across_two_clients(prefix):
    clients = [RedisLimits(REDIS_URL, prefix=prefix), RedisLimits(REDIS_URL, prefix=prefix)]
    limit_window("uzbekvoice:a", limit=3, per_seconds=60, backend=clients[0])
    limit_window("uzbekvoice:a", limit=3, per_seconds=60, backend=clients[1])
    limit_window("uzbekvoice:a", limit=3, per_seconds=60, backend=clients[0])
    with pytest.raises(RateLimited) as caught:
        limit_window("uzbekvoice:a", limit=3, per_seconds=60, backend=clients[1])
    assert 59 < caught.value.retry_after <= 60
    limit_window("uzbekvoice:b", limit=3, per_seconds=60, backend=clients[1])  # another account: its own count


def test_without_redis_the_limits_hold_in_process(settings):
    settings.REDIS_URL = ""
    assert isinstance(limits_backend(), LocalLimits)
    local = LocalLimits()
    with limit_mutex("pbx-download:1", backend=local):
        with pytest.raises(LimitBusy):
            with limit_mutex("pbx-download:1", wait_seconds=0.05, backend=local):
                pass
    with limit_mutex("pbx-download:1", wait_seconds=0, backend=local):
        pass
    for _ in range(2):
        limit_rate("crm:1", rate=1, burst=2, backend=local)
    with pytest.raises(RateLimited):
        limit_rate("crm:1", rate=1, burst=2, backend=local)
    limit_window("stt:1", limit=1, per_seconds=60, backend=local)
    with pytest.raises(RateLimited):
        limit_window("stt:1", limit=1, per_seconds=60, backend=local)


def test_with_redis_url_set_the_shared_backend_is_redis(settings):
    settings.REDIS_URL = REDIS_URL
    assert isinstance(limits_backend(), RedisLimits)


def test_an_unreachable_redis_is_a_transient_error():
    backend = RedisLimits("redis://127.0.0.1:1/0")
    with pytest.raises(LimitUnavailable) as caught:
        limit_rate("crm:1", rate=1, burst=1, backend=backend)
    assert isinstance(caught.value, TransientIntegrationError)  # the step retries later, never runs unlimited


# --- wired in: UzbekVoice submissions ---------------------------------------------------------------------------------

UZ_CALL = Path(__file__).resolve().parents[2] / "fixtures" / "calls" / "uz-01-sale.mono8k.mp3"


def _submit_once(base_url: str, api_key: str, answers) -> None:
    """Another machine's worker: its own process, its own Redis connection, the same UzbekVoice account."""
    stt = UzbekVoiceStt(api_key=api_key, base_url=base_url, submits_per_minute=2, poll_interval=0.02, max_wait=5.0)
    try:
        stt.recognise(UZ_CALL, language="uz", languages=("uz",))
        answers.put("submitted")
    except RateLimited as exc:
        answers.put(f"limited {exc.retry_after:.0f}")


def test_uzbekvoice_submissions_a_minute_hold_across_processes():
    assert REDIS_URL  # every worker of the test settings counts in this Redis (the child process reads them too)
    with FakeUzbekVoice() as fake:
        stt = UzbekVoiceStt(
            api_key=fake.api_key, base_url=fake.base_url, submits_per_minute=2, poll_interval=0.02, max_wait=5.0
        )
        stt.recognise(UZ_CALL, language="uz", languages=("uz",))
        stt.recognise(UZ_CALL, language="uz", languages=("uz",))

        context = multiprocessing.get_context("spawn")
        answers = context.Queue()
        other = context.Process(target=_submit_once, args=(fake.base_url, fake.api_key, answers))
        other.start()
        other.join(60)
        answer = answers.get(timeout=5)

        assert answer.startswith("limited")  # the other machine does not send a third submission this minute
        assert 55 <= int(answer.split()[1]) <= 60
        assert len(fake.submissions()) == 2


# --- wired in: OnlinePBX recording downloads --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_recording_download_waits_while_another_worker_downloads_for_the_same_company(
    pbx_fake, pbx_account, company, settings, tmp_path
):
    from django.utils import timezone

    from calls.models import CallStatus, Direction
    from calls.services.recordings import call_fetch_recording
    from calls.tests.factories import CallFactory

    settings.MEDIA_ROOT = tmp_path / "media"
    record = pbx_fake.add_call(started_at=timezone.now(), recording=UZ_CALL.read_bytes())
    call = CallFactory(
        company=company, operator=None, pbx_call_id=record["uuid"], direction=Direction.OUTBOUND, talk_seconds=30
    )
    held, seen = threading.Event(), {}

    def other_worker() -> None:  # its own Redis connection, the same tenant's key
        with limit_mutex(f"pbx-download:{company.pk}", backend=RedisLimits(REDIS_URL)):
            held.set()
            time.sleep(0.5)
            log = pbx_fake.requests_log
            seen["downloads while held"] = sum(1 for path, _ in log if path.startswith("/calls-records/download/"))

    thread = threading.Thread(target=other_worker)
    thread.start()
    held.wait(5)
    call_fetch_recording(call_id=call.pk)
    thread.join(5)

    call.refresh_from_db()
    assert seen["downloads while held"] == 0  # it waited for the other download to finish
    assert call.status == CallStatus.RECORDING_STORED
