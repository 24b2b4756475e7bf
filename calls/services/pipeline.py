"""Pipeline state changes. Each is a conditional UPDATE, so two workers never both move a call."""

import logging

from django.db.models import F
from django.utils import timezone

from calls.models import Call, CallStatus

logger = logging.getLogger(__name__)

MAX_REASON_CHARS = 2000


def call_mark_failed(*, call_id: int, code: str, reason: str, from_status: str | None = None) -> bool:
    """Moves the call to FAILED with a reason a supervisor can read. The call and its recording stay."""
    qs = Call.objects.filter(pk=call_id)
    if from_status is not None:
        qs = qs.filter(status=from_status)
    changed = qs.update(
        status=CallStatus.FAILED, failure_code=code, failure_reason=reason[:MAX_REASON_CHARS], updated_at=timezone.now()
    )
    if changed:
        call = Call.objects.only("company_id").get(pk=call_id)
        logger.warning("call_failed", extra={"company_id": call.company_id, "call_id": call_id, "code": code})
    return bool(changed)


def call_count_attempt(*, call_id: int) -> None:
    Call.objects.filter(pk=call_id).update(attempts=F("attempts") + 1, updated_at=timezone.now())


def call_recording_stored(*, call: Call) -> None:
    """Runs after the recording's transaction commits: queues the transcription (unless switched off)."""
    from django.conf import settings

    from calls.tasks import call_transcribe_task, task_enqueue

    logger.info("call_recording_stored", extra={"company_id": call.company_id, "call_id": call.pk})
    if settings.DIALIX_AUTO_TRANSCRIBE:
        task_enqueue(call_transcribe_task, call.pk, company_id=call.company_id)  # in process: never raises into us


RECORDING_FAILURES = ("recording_missing", "recording_unavailable", "recording_invalid", "recording_too_large")


def calls_retry_recording(*, calls) -> int:
    """Puts failed PBX calls without a recording back to NEW and queues the fetch again; returns how many."""
    from django.db import transaction

    from calls.tasks import call_fetch_recording_task, task_enqueue

    ids = list(
        calls.filter(status=CallStatus.FAILED, failure_code__in=RECORDING_FAILURES, recording="")
        .exclude(source="upload")
        .values_list("id", flat=True)
    )
    Call.objects.filter(pk__in=ids, status=CallStatus.FAILED).update(
        status=CallStatus.NEW, failure_code="", failure_reason="", attempts=0, updated_at=timezone.now()
    )
    transaction.on_commit(lambda: [task_enqueue(call_fetch_recording_task, call_id) for call_id in ids])
    return len(ids)
