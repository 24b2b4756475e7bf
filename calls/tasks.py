"""Thin Celery wrappers: a task imports its service, calls it and applies the step's retry policy
(calls.services.retry). Failure codes, backoff and what a call becomes when a step gives up are decided there."""

import logging
import time

from celery import Task, shared_task

from integrations.errors import TransientIntegrationError
from integrations.limits import LimitBusy

logger = logging.getLogger(__name__)


def _engine_used(step: str, call_id: int, requested: str | None) -> str:
    """The engine that wrote the step's output (the company's routing may have chosen it), for the step metric."""
    if step == "recording":
        return "pbx"
    from calls.models import Transcript
    from checklists.models import CallAnalysis

    model = {"transcription": Transcript, "analysis": CallAnalysis}.get(step)
    engine = model.objects.filter(call_id=call_id).values_list("engine", flat=True).first() if model else None
    return engine or requested or "default"


def _run_step(task: Task, policy, service, call_id: int, **kwargs) -> None:
    from calls.models import CallStatus
    from calls.services.retry import StepRetry, call_step_gave_up
    from dialix.metrics import step_observe

    started, outcome = time.monotonic(), "error"  # an unexpected exception keeps "error"
    try:
        call = service(call_id=call_id, **kwargs)
        outcome = "gone" if call is None else ("failed" if getattr(call, "status", "") == CallStatus.FAILED else "ok")
    except (StepRetry, TransientIntegrationError) as exc:
        cause = exc.cause if isinstance(exc, StepRetry) else exc
        if isinstance(cause, LimitBusy) and not task.app.conf.task_always_eager:
            # Waiting for another worker of the same tenant is not a failed try: a fresh message, retries unspent.
            outcome = "deferred"
            priority = (task.request.delivery_info or {}).get("priority")  # a person's request stays ahead of bulk
            task.apply_async(
                args=task.request.args, kwargs=task.request.kwargs, countdown=cause.retry_after or 30, priority=priority
            )
            return
        if task.request.retries >= policy.max_retries:
            outcome = "gave_up"
            call_step_gave_up(
                call_id=call_id, policy=policy, cause=cause, attempts=task.request.retries + 1, by=f"task:{task.name}"
            )
            return
        outcome = "retry"
        raise task.retry(exc=cause, countdown=policy.countdown(retries=task.request.retries, cause=cause)) from exc
    finally:
        # In process a step also runs the steps it queues (on commit), so its time includes theirs there.
        seconds = time.monotonic() - started
        engine = "pbx" if policy.step == "recording" else kwargs.get("engine") or "default"
        try:
            engine = _engine_used(policy.step, call_id, engine) if outcome == "ok" else engine
        except Exception:  # a metric is never worth a failed step
            logger.debug("step_engine_unknown", exc_info=True)
        step_observe(step=policy.step, engine=engine, outcome=outcome, seconds=seconds)


@shared_task(ignore_result=True)
def pbx_sync_company_task(company_id: int, kind: str = "scheduled", run_id: int | None = None) -> None:
    # Not retried: the next scheduled run is the retry, and it continues from the last committed window.
    # Beat's periodic task passes [company_id]; *Sync now* passes the id of the run it already shows as Queued.
    from calls.services.sync import pbx_sync_company

    pbx_sync_company(company_id=company_id, kind=kind, run_id=run_id)


@shared_task(ignore_result=True)
def pbx_backfill_task(run_id: int) -> None:
    # Not retried: a stopped backfill says why on its run, and *Resume the backfill* continues from its cursor.
    from calls.services.sync import pbx_backfill_run

    pbx_backfill_run(run_id=run_id)


@shared_task(ignore_result=True)
def pbx_sync_runs_close_stale_task() -> None:
    # Beat (the sweeper's schedule): sync runs left Running or Queued past the lease end Failed, "abandoned".
    from integrations.services import pbx_sync_runs_close_stale

    pbx_sync_runs_close_stale()


@shared_task(bind=True, ignore_result=True, max_retries=6)
def pbx_fetch_call_task(self, company_id: int, pbx_call_id: str) -> None:
    from calls.services.retry import RECORDING
    from calls.services.sync import pbx_fetch_call

    try:
        pbx_fetch_call(company_id=company_id, pbx_call_id=pbx_call_id)
    except TransientIntegrationError as exc:
        raise self.retry(exc=exc, countdown=RECORDING.countdown(retries=self.request.retries, cause=exc)) from exc


@shared_task(bind=True, ignore_result=True, max_retries=6)
def call_fetch_recording_task(self, call_id: int) -> None:
    from calls.services.recordings import call_fetch_recording
    from calls.services.retry import RECORDING

    _run_step(self, RECORDING, call_fetch_recording, call_id)


@shared_task(bind=True, ignore_result=True, max_retries=5)
def call_transcribe_task(self, call_id: int, engine: str | None = None) -> None:
    from calls.services.retry import TRANSCRIPTION
    from calls.services.transcription import call_transcribe

    # RabbitMQ hands a message back (redelivered) only when the worker that had it died before acknowledging it
    # (acks_late): that worker's claim on the call is then abandoned, and this run takes it over.
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    _run_step(self, TRANSCRIPTION, call_transcribe, call_id, engine=engine, redelivered=redelivered)


@shared_task(bind=True, ignore_result=True, max_retries=5)
def call_analyse_task(self, call_id: int, engine: str | None = None) -> None:
    from calls.services.analysis import call_analyse
    from calls.services.retry import ANALYSIS

    _run_step(self, ANALYSIS, call_analyse, call_id, engine=engine)


@shared_task(ignore_result=True)
def calls_sweep_task() -> None:
    # Beat, every minute (a global entry from a data migration): calls stranded past their step's limit are re-queued.
    # Safe on any number of machines at once; a run that dies halfway leaves the rest for the next one.
    from calls.services.sweeper import calls_sweep

    calls_sweep()


@shared_task(ignore_result=True)
def calls_retention_task() -> None:
    # Beat, nightly (a global entry from calls/migrations/0014_retention.py): each company's retention policy.
    # Idempotent: a re-run, or a run after a crash midway, finds only what is still due.
    from calls.services.retention import retention_apply_all

    retention_apply_all()


from calls.tasks_alerts import *  # noqa: E402,F401,F403  (issue 16: alert tasks, so workers register them)
from calls.tasks_crm import *  # noqa: E402,F401,F403  (issue 14: CRM tasks, so workers register them)
