"""Thin Celery wrappers of calls.services.crm, on the ``crm`` queue (dialix.settings: calls.tasks_crm.*). Imported
by calls.tasks so the workers register them. A transient failure (a rate limit, a 5xx, garbage, a call not linked
yet) is retried after the portal's wait or a backoff; whatever is left after the retries, the schedule
(crm_schedule_task) picks up again, since the calls stay pending and the write-backs owed."""

from __future__ import annotations

from celery import Task, shared_task

from integrations.errors import RateLimited, TransientIntegrationError

BACKOFF_SECONDS, BACKOFF_CAP_SECONDS = 30, 900


def _countdown(task: Task, exc: BaseException) -> int:
    if isinstance(exc, RateLimited) and exc.retry_after:
        return int(min(max(exc.retry_after, 1), BACKOFF_CAP_SECONDS))
    return int(min(BACKOFF_SECONDS * 2**task.request.retries, BACKOFF_CAP_SECONDS))


@shared_task(bind=True, ignore_result=True, max_retries=6)
def crm_link_company_task(self, company_id: int) -> None:
    from calls.services.crm import crm_link_company

    try:
        result = crm_link_company(company_id=company_id)
    except TransientIntegrationError as exc:
        raise self.retry(exc=exc, countdown=_countdown(self, exc)) from exc
    if result.more:  # a long backlog: the next batches in a fresh task, after other companies' work
        self.apply_async(args=[company_id], countdown=1)


@shared_task(bind=True, ignore_result=True, max_retries=8)
def crm_write_back_task(self, call_id: int) -> None:
    from calls.services.crm import crm_write_back_deliver

    try:
        crm_write_back_deliver(call_id=call_id)
    except TransientIntegrationError as exc:
        raise self.retry(exc=exc, countdown=_countdown(self, exc)) from exc


@shared_task(ignore_result=True)
def crm_poll_connection_task(connection_id: int) -> None:
    # Not retried: the next scheduled poll is the retry, from the cursor of the last complete poll.
    from calls.services.crm import crm_poll_connection

    crm_poll_connection(connection_id=connection_id)


@shared_task(ignore_result=True)
def crm_schedule_task() -> None:
    # Beat, every minute (the global entry of calls/migrations/0013): due polls, waiting links, owed write-backs.
    from calls.services.crm import crm_schedule

    crm_schedule()
