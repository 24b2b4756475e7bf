"""A real Celery worker on RabbitMQ for the task-wiring tests (on_commit -> broker -> worker)."""

from collections.abc import Iterator

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker, test_worker_started
from celery.worker import WorkController
from django.db import connections

from dialix.celery import app as celery_app


def _keep_test_logging(**kwargs) -> None:
    """A setup_logging receiver stops the worker from reconfiguring the root logger for the rest of the session."""


def _close_worker_connections(**kwargs) -> None:
    # The embedded worker gets no worker_init, so Celery's Django fixup never closes its connections: do it per task,
    # so no connection of the worker thread outlives the test database.
    for connection in connections.all(initialized_only=True):
        connection.close()


def _wake_often(worker: WorkController, **kwargs) -> None:
    # Runs in the worker thread before its event loop starts. Without a timer the loop may poll for up to 10 s, and
    # that is how long stopping the worker would take; a 0.2 s tick lets it notice the stop at once.
    worker.hub.call_repeatedly(0.2, lambda: None)


@pytest.fixture(scope="module")
def celery_worker() -> Iterator[WorkController]:
    """One worker thread (solo pool) for a test module, consuming this session's own queue."""
    signals.setup_logging.connect(_keep_test_logging, weak=False)
    signals.task_postrun.connect(_close_worker_connections, weak=False)
    test_worker_started.connect(_wake_often, weak=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=15) as worker:
            yield worker
    finally:
        test_worker_started.disconnect(_wake_often)
        signals.task_postrun.disconnect(_close_worker_connections)
        signals.setup_logging.disconnect(_keep_test_logging)
        with celery_app.connection_for_write() as conn:
            for queue in celery_app.conf.task_queues:  # queues are per session
                conn.default_channel.queue_delete(queue.name)


@pytest.fixture
def live_worker(celery_worker: WorkController, settings) -> Iterator[WorkController]:
    """Tasks go through the broker to the worker instead of running in process (test settings make them eager)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    try:
        yield celery_worker
    finally:
        celery_app.conf.task_always_eager = True
        _drain()


def _drain(seconds: float = 15.0) -> None:
    """Before the test's database is flushed: drop what the test left queued (e.g. a rollup refresh queued after its
    last commit) and let the task the worker is running finish, so no task of this test writes during the flush
    (a TRUNCATE and a worker's INSERT deadlock) or into the next test."""
    import time

    from celery.worker import state as worker_state

    with celery_app.connection_for_write() as conn:
        for queue in celery_app.conf.task_queues:
            conn.default_channel.queue_purge(queue.name)
    deadline = time.monotonic() + seconds
    while (worker_state.active_requests or worker_state.reserved_requests) and time.monotonic() < deadline:
        time.sleep(0.05)
