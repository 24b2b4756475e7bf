"""Queueing a task, the one way every app does it: in process (no broker) a task's retry or error never escapes into
the caller, and a person's request goes ahead of bulk work."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Task
from celery.exceptions import Retry

logger = logging.getLogger(__name__)

# RabbitMQ queues are declared with x-max-priority (dialix.settings.base.celery_queues); a worker with prefetch 1
# takes a person's request (re-analyse, re-transcribe, sync now) before the backlog of scheduled work.
PRIORITY_PERSON = 9
PRIORITY_BULK = 0


def task_enqueue(
    task: Task,
    *args: Any,
    company_id: int | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    priority: int | None = None,
) -> None:
    """Queues a follow-up task. With a broker this is ``task.apply_async(args)``: the worker runs it and schedules its
    retries. In process (``CELERY_TASK_ALWAYS_EAGER``, the no-broker default) the task runs here and now, and there is
    nobody to run a retry later: a ``Retry`` it asks for, or any error, is logged and handed to ``on_failure`` (which
    leaves the row in a state a person, the sweeper or a later sync picks up), and never escapes into the caller,
    e.g. a sync page's on-commit hook or a request."""
    options = {} if priority is None else {"priority": priority}
    if not task.app.conf.task_always_eager:
        task.apply_async(args, **options)
        return
    try:
        task.apply_async(args, **options)
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
