"""Pipeline actions a person or a step asks for: a call failed, fetch the recording again. Every status change goes
through calls.services.states.call_transition."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from calls.models import Call, CallStatus, FailureCode
from calls.services.states import TRANSITIONS, call_transition, calls_transition

CAN_FAIL = frozenset(status for status, targets in TRANSITIONS.items() if CallStatus.FAILED in targets)
RECORDING_FAILURES = (
    FailureCode.RECORDING_MISSING,
    FailureCode.RECORDING_UNAVAILABLE,
    FailureCode.RECORDING_INVALID,
    FailureCode.RECORDING_TOO_LARGE,
    FailureCode.RECORDING_TRUNCATED,
    FailureCode.INTERNAL_ERROR,
)


def call_mark_failed(
    *, call_id: int, code: str, reason: str, from_status: str | None = None, by: str = "pipeline"
) -> bool:
    """Moves the call to FAILED with a reason a supervisor can read. The call and its recording stay."""
    return call_transition(
        call_id=call_id, to=CallStatus.FAILED, expect=from_status or CAN_FAIL, by=by, code=code, reason=reason
    )


def calls_retry_recording(*, calls: QuerySet[Call], by: str = "console") -> int:
    """Puts PBX calls still without a recording (failed, or stranded NEW) back in line for a download; how many.
    A NEW call is queued again as it is; a failed one is moved back to NEW first."""
    from django.db import transaction

    from calls.services.states import pipeline_next

    waiting = calls.filter(recording="").exclude(source="upload")
    stranded = list(waiting.filter(status=CallStatus.NEW).values("id", "company_id", "source"))
    moved = calls_transition(
        call_ids=list(
            waiting.filter(status=CallStatus.FAILED, failure_code__in=RECORDING_FAILURES).values_list("id", flat=True)
        ),
        to=CallStatus.NEW,
        expect=CallStatus.FAILED,
        by=by,
        reason="fetch the recording again",
        where=Q(recording=""),
        fields={"attempts": 0},
        requested=True,
    )
    for row in stranded:
        transaction.on_commit(
            lambda row=row: pipeline_next(
                call_id=row["id"],
                company_id=row["company_id"],
                status=CallStatus.NEW,
                source=row["source"],
                requested=True,
            )
        )
    return len(moved) + len(stranded)
