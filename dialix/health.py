"""GET /healthz: database, broker and cache, as JSON; 200 when all are up, 503 naming what is down.

Anonymous callers (load balancers, uptime probes) see only up/down per part: a failing dependency's exception text
names hosts, ports and roles. Dialix's own staff (superusers) and a monitor holding DIALIX_METRICS_TOKEN also see
the detail."""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)
CHECK_TIMEOUT_SECONDS = 3


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL:
        return "ok (tasks run in process)"
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=CHECK_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)
    return "ok"


def _check_cache() -> str:
    key = "healthz:probe"
    value = str(time.time())
    cache.set(key, value, 10)
    if cache.get(key) != value:
        raise RuntimeError("value written was not read back")
    return "ok"


CHECKS = {"database": _check_database, "broker": _check_broker, "cache": _check_cache}


def _sees_details(request: HttpRequest) -> bool:
    from dialix.metrics_view import metrics_token_ok

    if metrics_token_ok(request):
        return True
    try:  # a session cookie makes this a database read, and the database may be what is down
        user = request.user
        return bool(user.is_authenticated and user.is_superuser)
    except DatabaseError:
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results: dict[str, dict[str, str]] = {}
    healthy = True
    for name, check in CHECKS.items():
        try:
            results[name] = {"status": "ok", "detail": check()}
        except Exception as exc:  # a health check reports every failure instead of raising
            healthy = False
            results[name] = {"status": "down", "detail": f"{type(exc).__name__}: {exc}"[:300]}
            logger.warning("healthz_check_failed", extra={"check": name, "reason": str(exc)[:300]})
    if not _sees_details(request):
        results = {name: {"status": result["status"]} for name, result in results.items()}
    body = {"status": "ok" if healthy else "down", "checks": results}
    if not healthy:
        body["failing"] = [name for name, result in results.items() if result["status"] == "down"]
    return JsonResponse(body, status=200 if healthy else 503)
