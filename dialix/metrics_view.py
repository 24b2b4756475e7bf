"""The ``/metrics`` view (behind a bearer token or a network allow-list) and the figures read at scrape time: calls
per state and messages waiting per queue, cached, never holding a scrape longer than about a second.

Requests per view, status and latency come from django-prometheus' middleware (settings.MIDDLEWARE); our counters
are in dialix.metrics. Under gunicorn or a prefork Celery pool each process has its own counters: set
``PROMETHEUS_MULTIPROC_DIR`` to an empty folder (emptied at each start) shared by the processes of one machine, and
``/metrics`` adds them up.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Iterator

import prometheus_client
from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

import dialix.metrics  # noqa: F401 - registers our counters, so a scrape lists them before their first sample

logger = logging.getLogger(__name__)

SCRAPE_BUDGET_SECONDS = 1.0  # a slow broker or database never holds a scrape longer than this
_CALLS_KEY = "dialix:metrics:calls_by_state"
_QUEUES_KEY = "dialix:metrics:queue_depths"


def _calls_by_state() -> dict[str, int]:
    """One grouped query over every company's calls, with a statement timeout on PostgreSQL (a scrape must not pile
    up behind a slow table)."""
    from django.db import connection, transaction
    from django.db.models import Count

    from calls.models import Call

    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = %s", [int(SCRAPE_BUDGET_SECONDS * 1000)])
        rows = Call.objects.order_by().values_list("status").annotate(n=Count("id"))
        return {status: n for status, n in rows}


def _queue_depths() -> dict[str, int]:
    """Messages waiting in each of our Celery queues: a passive ``queue_declare`` (RabbitMQ; kombu's Redis and
    filesystem transports answer the same call with their list lengths). A queue not declared yet is left out."""
    from kombu import Connection

    from dialix.celery import app

    depths: dict[str, int] = {}
    options = app.conf.broker_transport_options or {}  # the demo's filesystem broker keeps its folders there
    with Connection(
        settings.CELERY_BROKER_URL, connect_timeout=SCRAPE_BUDGET_SECONDS, transport_options=options
    ) as conn:
        conn.ensure_connection(max_retries=0, timeout=SCRAPE_BUDGET_SECONDS)
        for queue in app.conf.task_queues or ():
            channel = conn.channel()
            try:
                _name, messages, _consumers = channel.queue_declare(queue=queue.name, passive=True)
                depths[queue.name] = int(messages)
            except conn.channel_errors:  # NOT_FOUND closes the channel; the next queue gets a fresh one
                pass
            finally:
                try:
                    channel.close()
                except conn.connection_errors + conn.channel_errors:
                    pass
    return depths


class _Refresher:
    """Runs a slow reading in a thread with a time budget. A reading that comes back late still lands: it becomes
    the last good value (kept here and in the shared cache, so a machine's processes take turns instead of all
    asking), which serves the scrapes in between and any scrape whose own reading is late."""

    def __init__(self, key: str, read: Callable[[], dict[str, int]]) -> None:
        self.key = key
        self.read = read
        self.lock = threading.Lock()
        self.last: dict[str, int] | None = None

    def get(self) -> dict[str, int] | None:
        try:
            cached = cache.get(self.key)
        except Exception:  # the cache being down is /healthz's news; the scrape goes on without it
            cached = None
        if cached is not None:
            return cached
        if not self.lock.acquire(blocking=False):  # a reading is already running: serve what we had
            return self.last
        thread = threading.Thread(target=self._work, name=f"metrics-{self.key}", daemon=True)
        thread.start()
        thread.join(SCRAPE_BUDGET_SECONDS)
        return self.last

    def _work(self) -> None:
        from django.db import connections

        try:
            self.last = self.read()
            cache.set(self.key, self.last, settings.DIALIX_METRICS_CACHE_SECONDS)
        except Exception as exc:  # reported as a missing figure, never as a failed scrape
            logger.warning("metrics_reading_failed", extra={"reading": self.key, "reason": type(exc).__name__})
        finally:
            connections.close_all()  # this thread's own connection, if it opened one
            self.lock.release()


_calls = _Refresher(_CALLS_KEY, _calls_by_state)
_queues = _Refresher(_QUEUES_KEY, _queue_depths)


class StateCollector(Collector):
    """Gauges read at scrape time: calls per state (all companies) and messages waiting per queue."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        calls = GaugeMetricFamily("dialix_calls", "Calls in each pipeline state, all companies.", labels=["state"])
        for state, count in sorted((_calls.get() or {}).items()):
            calls.add_metric([state], count)
        yield calls
        queues = GaugeMetricFamily(
            "dialix_queue_messages", "Messages waiting in each Celery queue (broker).", labels=["queue"]
        )
        if not settings.CELERY_TASK_ALWAYS_EAGER and settings.CELERY_BROKER_URL:
            for name, depth in sorted((_queues.get() or {}).items()):
                queues.add_metric([name], depth)
        yield queues


_state_registry = CollectorRegistry(auto_describe=False)
_state_registry.register(StateCollector())


def metrics_text() -> bytes:
    """The whole exposition: this process's (or, in multiprocess mode, this machine's) counters, then the state."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    return prometheus_client.generate_latest(registry) + prometheus_client.generate_latest(_state_registry)


# --- who may read them -----------------------------------------------------------------------------------------------


def _bearer(request: HttpRequest) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def metrics_token_ok(request: HttpRequest) -> bool:
    """The request carries ``Authorization: Bearer <DIALIX_METRICS_TOKEN>`` (compared in constant time)."""
    expected = settings.DIALIX_METRICS_TOKEN
    given = _bearer(request)
    return bool(expected and given) and hmac.compare_digest(given.encode(), expected.encode())


def _network_ok(request: HttpRequest) -> bool:
    # The caller's address as the outermost trusted proxy saw it (DIALIX_TRUSTED_PROXY_COUNT): behind a proxy,
    # REMOTE_ADDR is the proxy's, and an allow-listed proxy network would let every outside caller in.
    from dialix.security import client_ip

    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.DIALIX_METRICS_ALLOWED_NETWORKS)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """404 while neither a token nor a network is configured (the endpoint does not exist); 403 for a caller that
    is neither on an allowed network nor holding the token."""
    if not settings.DIALIX_METRICS_TOKEN and not settings.DIALIX_METRICS_ALLOWED_NETWORKS:
        raise Http404
    if not (metrics_token_ok(request) or _network_ok(request)):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics_text(), content_type=prometheus_client.CONTENT_TYPE_LATEST)
