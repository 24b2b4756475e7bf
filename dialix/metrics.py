"""Prometheus metrics: our counters and histograms, recorded where things happen. The scrape-time gauges (queue
depths, calls per state) and the ``/metrics`` view are in dialix.metrics_view. This module imports no app, so the
lowest layers (integrations.errors) can count into it.

Requests per view, status and latency come from django-prometheus' middleware (settings.MIDDLEWARE). Under gunicorn
or a prefork Celery pool each process has its own counters: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder
(emptied at each start) shared by the processes of one machine, and ``/metrics`` adds them up. Celery workers on a
machine without the web server export on ``DIALIX_WORKER_METRICS_PORT`` (dialix.observability).
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Histogram

logger = logging.getLogger(__name__)

# --- recorded where things happen ------------------------------------------------------------------------------------

# A transcription of a long call takes minutes on CPU; a recording download or an analysis seconds.
STEP_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, float("inf"))

PIPELINE_STEP_SECONDS = Histogram(
    "dialix_pipeline_step_seconds",
    "Duration of one run of a pipeline step (recording, transcription, analysis), by engine and outcome.",
    ["step", "engine", "outcome"],
    buckets=STEP_BUCKETS,
)
VENDOR_ERRORS = Counter(
    "dialix_vendor_errors",
    "Typed failures of external systems (PBX, speech-to-text, LLM, CRM), by system and kind.",
    ["system", "kind", "retryable"],
)
TASKS = Counter("dialix_celery_tasks", "Celery task runs that finished, by task and state.", ["task", "state"])


def step_observe(*, step: str, engine: str, outcome: str, seconds: float) -> None:
    PIPELINE_STEP_SECONDS.labels(step=step, engine=engine or "unknown", outcome=outcome).observe(seconds)


def vendor_error_count(exc: BaseException, *, retryable: bool) -> None:
    """Counts one typed integration failure: ``system`` is the kind of integration (pbx, stt, llm, crm; ``generic``
    for the shared error classes), ``kind`` the error's class name. Never raises: metrics must not break a caller."""
    try:
        module = type(exc).__module__.split(".")
        system = module[1] if len(module) > 2 and module[0] == "integrations" else "generic"
        VENDOR_ERRORS.labels(system=system, kind=type(exc).__name__, retryable=str(retryable).lower()).inc()
    except Exception:  # a metric is never worth a failed call
        logger.debug("vendor_error_count_failed", exc_info=True)
