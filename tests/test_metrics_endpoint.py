"""GET /metrics: who may read it, and that what Prometheus reads there moves with what really happened (requests,
pipeline steps on the fake PBX, vendor errors, calls per state from the database, queue depths from RabbitMQ)."""

import datetime as dt
import time
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from calls.models import CallStatus, Direction
from calls.tasks import call_fetch_recording_task
from calls.tests.factories import CallFactory
from dialix import metrics_view
from dialix.celery import app as celery_app

RECORDING = Path(__file__).resolve().parents[1] / "fixtures" / "calls" / "en-02-complaint.stereo8k.mp3"
DOWNLOAD = "/calls-records/download/"
TOKEN = "metrics-test-token-0123456789"  # noqa: S105 - a test value


@pytest.fixture
def scraper(client, settings):
    settings.DIALIX_METRICS_TOKEN = TOKEN
    settings.DIALIX_METRICS_CACHE_SECONDS = 0  # every scrape reads afresh
    for refresher in (metrics_view._calls, metrics_view._queues):
        refresher.last = None

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    return scrape


def _scrape_until(scraper, name: str, **labels: str):
    """Scrapes until the sample shows: on a busy machine a reading may come back after its scrape's 1 s budget,
    and then serves the next scrape."""
    samples = scraper()
    deadline = time.monotonic() + 10
    while (name, tuple(sorted(labels.items()))) not in samples and time.monotonic() < deadline:
        time.sleep(0.2)
        samples = scraper()
    return samples


def _value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_metrics_is_404_until_a_token_or_network_is_configured(client, settings):
    settings.DIALIX_METRICS_TOKEN = ""
    settings.DIALIX_METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.django_db
def test_metrics_needs_the_bearer_token(client, settings, admin_client):
    settings.DIALIX_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 403
    assert admin_client.get("/metrics").status_code == 403  # a superuser's session is not a scraper's credential
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and b"dialix_pipeline_step_seconds" in response.content


@pytest.mark.django_db
def test_metrics_from_an_allowed_network_needs_no_token(client, settings):
    settings.DIALIX_METRICS_TOKEN = ""
    settings.DIALIX_METRICS_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.21.3.4").status_code == 403
    # A forwarded-for header is the caller's own claim: it opens nothing.
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.20.3.4").status_code == 403


@pytest.mark.django_db
def test_requests_are_counted_per_view_and_status(client, scraper):
    before = scraper()
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page/")
    after = scraper()
    by_view = "django_http_responses_total_by_status_view_method_total"
    healthz = {"status": "200", "view": "healthz", "method": "GET"}
    assert _value(after, by_view, **healthz) - _value(before, by_view, **healthz) == 2
    assert _value(after, "django_http_responses_total_by_status_total", status="404") - _value(
        before, "django_http_responses_total_by_status_total", status="404"
    ) == pytest.approx(1)


@pytest.mark.django_db
def test_pipeline_step_and_vendor_error_are_counted(eager_retries, pbx_fake, pbx_account, company, scraper, settings):
    settings.MEDIA_ROOT = settings.MEDIA_ROOT / "metrics-test"
    record = pbx_fake.add_call(started_at=timezone.now() - dt.timedelta(hours=1), recording=RECORDING.read_bytes())
    call = CallFactory(
        company=company,
        operator=None,
        pbx_call_id=record["uuid"],
        direction=Direction.OUTBOUND,
        talk_seconds=record["user_talk_time"],
    )
    pbx_fake.fail_next(1, "http500", path_contains=DOWNLOAD)
    step = "dialix_pipeline_step_seconds_count"
    errors = "dialix_vendor_errors_total"
    before = scraper()

    call_fetch_recording_task.delay(call.pk)  # eager: the 500, a retry at once, then the download

    after = scraper()
    call.refresh_from_db()
    assert call.status == CallStatus.RECORDING_STORED
    for outcome in ("retry", "ok"):
        labels = {"step": "recording", "engine": "pbx", "outcome": outcome}
        assert _value(after, step, **labels) - _value(before, step, **labels) == 1, outcome
    unavailable = {"system": "pbx", "kind": "PbxUnavailable", "retryable": "true"}
    assert _value(after, errors, **unavailable) - _value(before, errors, **unavailable) == 1
    assert _value(after, "dialix_pipeline_step_seconds_sum", step="recording", engine="pbx", outcome="ok") > 0


@pytest.mark.django_db(transaction=True)  # the reading runs on its own connection, so it sees committed rows only
def test_calls_per_state_come_from_one_grouped_query(company, scraper):
    CallFactory.create_batch(3, company=company, status=CallStatus.NEW)
    CallFactory(company=company, status=CallStatus.FAILED)
    samples = _scrape_until(scraper, "dialix_calls", state="new")
    assert _value(samples, "dialix_calls", state="new") == 3
    assert _value(samples, "dialix_calls", state="failed") == 1
    assert ("dialix_calls", (("state", "done"),)) not in samples  # no calls, no line: never a made-up zero


@pytest.mark.worker
@pytest.mark.django_db
def test_queue_depths_are_read_from_the_broker(scraper, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    queue = f"{settings.DIALIX_TASK_QUEUE_PREFIX}crm"  # no worker of this session consumes crm in this module
    try:
        for _ in range(3):
            celery_app.send_task("dialix.tests.nothing", queue=queue)
        samples = _scrape_until(scraper, "dialix_queue_messages", queue=queue)
    finally:
        celery_app.conf.task_always_eager = True
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
    assert _value(samples, "dialix_queue_messages", queue=queue) == 3
    assert _value(samples, "dialix_queue_messages", queue=f"{settings.DIALIX_TASK_QUEUE_PREFIX}stt") == 0


@pytest.mark.django_db
def test_a_broker_that_does_not_answer_costs_a_scrape_about_a_second(scraper, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "amqp://guest:guest@10.255.255.1:5672//"  # unroutable: the connect hangs
    started = time.monotonic()
    samples = scraper()
    assert time.monotonic() - started < metrics_view.SCRAPE_BUDGET_SECONDS + 1.5
    assert not [key for key in samples if key[0] == "dialix_queue_messages"]
