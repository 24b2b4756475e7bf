"""Thin Celery wrappers: a task imports its service, calls it and decides retries."""

import logging
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from celery.exceptions import Retry

from integrations.errors import RateLimited, TransientIntegrationError

logger = logging.getLogger(__name__)


def task_enqueue(
    task: Task, *args: Any, company_id: int | None = None, on_failure: Callable[[BaseException], None] | None = None
) -> None:
    """Queues a follow-up task. With a broker this is ``task.delay(*args)``: the worker runs it and schedules its
    retries. In process (``CELERY_TASK_ALWAYS_EAGER``, the no-broker default) the task runs here and now, and there is
    nobody to run a retry later: a ``Retry`` it asks for, or any error, is logged and handed to ``on_failure`` (which
    leaves the row in a state a person or a later sync picks up), and never escapes into the caller, e.g. a sync
    page's on-commit hook or a request."""
    if not task.app.conf.task_always_eager:
        task.delay(*args)
        return
    try:
        task.delay(*args)
    except Exception as exc:
        cause = exc.exc if isinstance(exc, Retry) and isinstance(exc.exc, BaseException) else exc
        logger.warning(
            "task_failed_in_process",
            extra={
                "company_id": company_id,
                "task": task.name,
                "task_args": list(args),
                "reason": f"{type(cause).__name__}: {cause}",
            },
        )
        if on_failure is not None:
            on_failure(cause)


@shared_task(ignore_result=True)
def pbx_sync_company_task(company_id: int, kind: str = "scheduled", run_id: int | None = None) -> None:
    # Not retried: the next scheduled run is the retry, and it continues from the last committed window.
    # Beat's periodic task passes [company_id]; *Sync now* passes the id of the run it already shows as Queued.
    from calls.services.sync import pbx_sync_company

    pbx_sync_company(company_id=company_id, kind=kind, run_id=run_id)


@shared_task(bind=True, ignore_result=True, max_retries=6)
def pbx_fetch_call_task(self, company_id: int, pbx_call_id: str) -> None:
    from calls.services.sync import pbx_fetch_call

    try:
        pbx_fetch_call(company_id=company_id, pbx_call_id=pbx_call_id)
    except RateLimited as exc:
        raise self.retry(exc=exc, countdown=exc.retry_after or 60) from exc
    except TransientIntegrationError as exc:
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 900)) from exc


@shared_task(bind=True, ignore_result=True, max_retries=6)
def call_fetch_recording_task(self, call_id: int) -> None:
    from calls.models import CallStatus
    from calls.services.pipeline import call_mark_failed
    from calls.services.recordings import call_fetch_recording

    try:
        call_fetch_recording(call_id=call_id)
    except TransientIntegrationError as exc:
        if self.request.retries >= self.max_retries:
            call_mark_failed(
                call_id=call_id,
                code="recording_unavailable",
                reason=f"The PBX did not deliver the recording after {self.max_retries + 1} attempts: "
                f"{type(exc).__name__}: {exc}",
                from_status=CallStatus.NEW,
            )
            return
        countdown = (
            exc.retry_after if isinstance(exc, RateLimited) and exc.retry_after else 30 * 2**self.request.retries
        )
        raise self.retry(exc=exc, countdown=min(countdown, 900)) from exc


@shared_task(bind=True, ignore_result=True, max_retries=5)
def call_transcribe_task(self, call_id: int, engine: str | None = None) -> None:
    from calls.services.transcription import TranscriptionRetry, call_transcribe

    try:
        call_transcribe(call_id=call_id, engine=engine)
    except TranscriptionRetry as exc:
        cause = exc.__cause__
        if isinstance(cause, RateLimited) and cause.retry_after:
            countdown = cause.retry_after
        else:
            countdown = 60 * 2**self.request.retries
        if self.request.retries >= self.max_retries:
            from calls.services.pipeline import call_mark_failed

            call_mark_failed(call_id=call_id, code="stt_unavailable", reason=f"Speech-to-text kept failing: {exc}")
            return
        raise self.retry(exc=exc, countdown=min(countdown, 1800)) from exc


@shared_task(bind=True, ignore_result=True, max_retries=5)
def call_analyse_task(self, call_id: int, engine: str | None = None) -> None:
    from checklists.services import AnalysisRetry, call_analyse

    try:
        call_analyse(call_id=call_id, engine=engine)
    except AnalysisRetry as exc:
        cause = exc.__cause__
        if self.request.retries >= self.max_retries:
            from calls.services.pipeline import call_mark_failed

            call_mark_failed(call_id=call_id, code="analysis_unavailable", reason=f"The analyser kept failing: {exc}")
            return
        countdown = (
            cause.retry_after if isinstance(cause, RateLimited) and cause.retry_after else 30 * 2**self.request.retries
        )
        raise self.retry(exc=exc, countdown=min(countdown, 1800)) from exc
