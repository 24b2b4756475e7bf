"""One request id from the web request into every task it queues, and into the tasks those queue (issue 16, item 7).

A PBX push (a real request through the whole middleware stack) queues the fetch of that call, which queues the
download of its recording. Every JSON log line of both tasks carries the push's request id and its own task id:
in process (no broker) and on a real worker over RabbitMQ, where the id can only travel in the message headers.
"""

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from calls.models import Call, CallStatus
from calls.tests import conftest as worker_fixtures
from dialix.observability import ContextFilter, request_id_var, task_id_var
from integrations.services import pbx_push_secret_rotate

RECORDING = Path(__file__).resolve().parents[1] / "fixtures" / "calls" / "en-02-complaint.stereo8k.mp3"
celery_worker, live_worker = worker_fixtures.celery_worker, worker_fixtures.live_worker  # the real worker fixtures
FETCH, DOWNLOAD = "calls.tasks.pbx_fetch_call_task", "calls.tasks.call_fetch_recording_task"


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict]]]:
    """Reads back the JSON lines the production handler writes (its formatter and filters, see settings.LOGGING)."""
    production = next(h for h in logging.getLogger().handlers if any(isinstance(f, ContextFilter) for f in h.filters))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(production.formatter)
    for log_filter in production.filters:
        handler.addFilter(log_filter)
    logging.getLogger().addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logging.getLogger().removeHandler(handler)


def _push(client, pbx_fake, pbx_account, **headers):
    secret = pbx_push_secret_rotate(account=pbx_account)
    record = pbx_fake.add_call(direction="inbound", operator_ext="102", talk_seconds=35)  # the recording's own length
    pbx_fake.recordings[record["uuid"]] = RECORDING.read_bytes()
    response = client.post(
        f"/api/v1/pbx/webhook/{secret}/", {"uuid": record["uuid"], "event": "call_end"}, format="json", **headers
    )
    assert response.status_code == 202, response.content
    return response, record["uuid"]


def _task_lines(lines: list[dict], task: str) -> list[dict]:
    return [line for line in lines if line.get("message") == "task_finished" and line.get("task") == task]


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# Committed as it goes, as in production: the on-commit hook runs the fetch inside the request.
@pytest.mark.django_db(transaction=True)
def test_tasks_run_in_process_log_the_request_id_of_the_push(api_client, pbx_fake, pbx_account, media_root, log_lines):
    response, uuid = _push(api_client, pbx_fake, pbx_account, HTTP_X_REQUEST_ID="lb-7f3a9c2e-0001")

    assert response["X-Request-ID"] == "lb-7f3a9c2e-0001"  # the proxy's id is kept and answered
    assert Call.objects.get(pbx_call_id=uuid).status == CallStatus.RECORDING_STORED
    lines = log_lines()
    fetch, download = _task_lines(lines, FETCH), _task_lines(lines, DOWNLOAD)
    assert len(fetch) == len(download) == 1
    assert fetch[0]["request_id"] == download[0]["request_id"] == "lb-7f3a9c2e-0001"
    assert fetch[0]["task_id"] != download[0]["task_id"]
    assert (request_id_var.get(), task_id_var.get()) == (None, None)  # nothing leaks past the request


@pytest.mark.django_db
def test_a_request_without_an_id_gets_one_and_a_made_up_header_is_replaced(api_client, log_lines):
    plain = api_client.get("/healthz")
    assert len(plain["X-Request-ID"]) == 32
    missing = api_client.get("/no-such-page/")
    # Django's own "Not Found" line is written after the middleware has finished, and still carries the id.
    not_found = [line for line in log_lines() if line["message"] == "Not Found: /no-such-page/"]
    assert [line["request_id"] for line in not_found] == [missing["X-Request-ID"]]
    hostile = api_client.get("/healthz", HTTP_X_REQUEST_ID='"><script>alert(1)</script>')
    assert hostile["X-Request-ID"] != '"><script>alert(1)</script>' and len(hostile["X-Request-ID"]) == 32


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_tasks_on_a_real_worker_log_the_request_id_carried_in_the_message_headers(
    api_client, live_worker, pbx_fake, pbx_account, media_root, log_lines
):
    response, uuid = _push(api_client, pbx_fake, pbx_account)
    request_id = response["X-Request-ID"]

    deadline = time.monotonic() + 20
    while not _task_lines(log_lines(), DOWNLOAD) and time.monotonic() < deadline:
        time.sleep(0.2)
    lines = log_lines()
    fetch, download = _task_lines(lines, FETCH), _task_lines(lines, DOWNLOAD)
    assert len(fetch) == 1 and len(download) == 1, "the worker did not run both tasks"
    assert fetch[0]["request_id"] == download[0]["request_id"] == request_id
    assert fetch[0]["task_id"] != download[0]["task_id"]
    # Celery's own line for the task, written in the worker, carries them too.
    succeeded = [line for line in lines if "succeeded" in line.get("message", "") and FETCH in line["message"]]
    assert succeeded and succeeded[0]["request_id"] == request_id
    assert Call.objects.get(pbx_call_id=uuid).status == CallStatus.RECORDING_STORED
