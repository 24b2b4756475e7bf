"""A request id on every log line of a web request and of every task it queues, however far down the chain.

- ``RequestIdMiddleware`` takes the proxy's ``X-Request-ID`` (when it looks like an id) or makes one, answers it in
  the response header and keeps it in a context variable for the request.
- ``before_task_publish`` copies the current request id (a web request's, or the running task's own) into the
  message headers; ``task_prerun`` restores it in the worker together with the task id, ``task_postrun`` puts back
  what was there before (in process, a task runs inside its caller and the caller's ids must come back).
- ``ContextFilter`` (on the log handler in settings.LOGGING) writes ``request_id`` and ``task_id`` into each record,
  so the JSON formatter prints them.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from celery import signals
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

request_id_var: ContextVar[str | None] = ContextVar("dialix_request_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("dialix_task_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "dialix_request_id"  # the message header that carries the id to the worker
# What we accept from a proxy (nginx's $request_id, a load balancer's trace id): short, no spaces, no markup.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _VALID_ID.match(given) else new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            _sentry_tag(request_id)
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _sentry_tag(request_id: str) -> None:
    import sentry_sdk

    if sentry_sdk.is_initialized():
        sentry_sdk.get_isolation_scope().set_tag("request_id", request_id)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` / ``task_id`` to a record when there is one (a record that already has them keeps its)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id, task_id = request_id_var.get(), task_id_var.get()
        if request_id is None:  # Django logs a request's 4xx/5xx after the middleware is done, with the request
            request_id = getattr(getattr(record, "request", None), "request_id", None)
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        if task_id is not None and not hasattr(record, "task_id"):
            record.task_id = task_id
        return True


# --- Celery ----------------------------------------------------------------------------------------------------------


@signals.before_task_publish.connect(weak=False)
def _add_request_id_header(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    request_id = request_id_var.get()
    if request_id is not None and headers is not None:
        headers.setdefault(TASK_HEADER, request_id)


# Per task id: the tokens to reset and when it started. A stack per id, because an in-process task can queue (and so
# run) the same task again inside itself, e.g. a retry.
_running: dict[str, list[tuple[Token, Token, float]]] = {}


@signals.task_prerun.connect(weak=False)
def _task_context_start(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    carried = task.request.get(TASK_HEADER) if task is not None else None
    request_token = request_id_var.set(carried if carried else request_id_var.get())
    task_token = task_id_var.set(task_id)
    _running.setdefault(task_id or "", []).append((request_token, task_token, time.monotonic()))


@signals.task_postrun.connect(weak=False)
def _task_context_end(task_id: str | None = None, task: Any = None, state: str | None = None, **kwargs: Any) -> None:
    from dialix.metrics import TASKS

    stack = _running.get(task_id or "")
    if not stack:
        return
    request_token, task_token, started = stack.pop()
    if not stack:
        del _running[task_id or ""]
    name = getattr(task, "name", "unknown")
    TASKS.labels(task=name, state=state or "unknown").inc()
    logger.info("task_finished", extra={"task": name, "state": state, "seconds": round(time.monotonic() - started, 3)})
    task_id_var.reset(task_token)
    request_id_var.reset(request_token)


@signals.setup_logging.connect(weak=False)
def _keep_django_logging(**kwargs: Any) -> None:
    """A receiver here stops the worker from replacing the root logger's handlers with its own plain format: worker
    lines stay JSON (settings.LOGGING, which Django applies when it sets up) with request_id and task_id."""
    root = logging.getLogger()
    if not root.handlers:  # Django is not set up yet in this process: apply the same configuration now
        from logging.config import dictConfig

        from django.conf import settings

        dictConfig(settings.LOGGING)


@signals.worker_init.connect(weak=False)
def _worker_metrics_exporter(**kwargs: Any) -> None:
    """A worker machine without the web server serves its metrics on DIALIX_WORKER_METRICS_PORT (off when unset).
    With a prefork pool the children's counters reach it only through PROMETHEUS_MULTIPROC_DIR."""
    import os

    from django.conf import settings

    port = getattr(settings, "DIALIX_WORKER_METRICS_PORT", None)
    if not port:
        return
    import prometheus_client
    from prometheus_client import CollectorRegistry, multiprocess

    registry = prometheus_client.REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    prometheus_client.start_http_server(port, addr=settings.DIALIX_WORKER_METRICS_ADDRESS, registry=registry)
    logger.info("worker_metrics_exported", extra={"port": port})
