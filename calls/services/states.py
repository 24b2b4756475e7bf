"""The call's journey in one place: the allowed transitions and the only code that writes Call.status.

Every step reads its call, does its work outside any transaction, then moves the call with `call_transition`: one
conditional UPDATE (0 rows = another worker or a person moved it first) plus a CallEvent row, in one short
transaction, and the next step queued once that transaction commits (`pipeline_next`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from calls.models import Call, CallEvent, CallSource, CallStatus, FailureCode
from calls.signals import figures_changed
from calls.webhooks import events_for_transition

logger = logging.getLogger(__name__)

S = CallStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.RECORDING_STORED, S.SKIPPED, S.FAILED}),
    S.SKIPPED: frozenset({S.NEW}),  # a late update of the PBX record says it was answered after all
    S.RECORDING_STORED: frozenset({S.TRANSCRIBING, S.FAILED}),
    # back to RECORDING_STORED: a passing engine problem releases the claim for the retry
    S.TRANSCRIBING: frozenset({S.TRANSCRIBED, S.RECORDING_STORED, S.FAILED}),
    S.TRANSCRIBED: frozenset({S.ANALYSING, S.RECORDING_STORED, S.FAILED}),
    S.ANALYSING: frozenset({S.DONE, S.TRANSCRIBED, S.FAILED}),
    S.DONE: frozenset({S.TRANSCRIBED, S.RECORDING_STORED}),  # re-analyse, re-transcribe
    S.FAILED: frozenset({S.NEW, S.RECORDING_STORED, S.TRANSCRIBED}),  # fetch again, re-transcribe, re-analyse
}
TERMINAL = frozenset({S.DONE, S.SKIPPED, S.FAILED})
MAX_REASON_CHARS = 2000
# A move that changes what the dashboard counts (analysed / answered), or writes a figure it shows (issue 15).
FIGURE_STATES = frozenset({S.DONE, S.SKIPPED})
FIGURE_FIELDS = frozenset(
    {"language", "talk_ratio", "silence_share", "interruptions", "operator_words_per_minute", "customer_sentiment",
     "outcome", "score", "auto_fail", "needs_review", "operator_id", "started_at", "duration_seconds", "direction"}
)  # fmt: skip


class TransitionNotAllowed(ValueError):
    """A programming error: the code asked for a move the table does not have."""


def _expected(expect: str | Iterable[str]) -> set[str]:
    return {expect} if isinstance(expect, str) else set(expect)


def call_transition(
    *,
    call_id: int,
    to: str,
    expect: str | Iterable[str],
    by: str,
    code: str = "",
    reason: str = "",
    fields: dict[str, Any] | None = None,
    where: Q | None = None,
    queue_next: bool = True,
    engine: str | None = None,
    requested: bool = False,
) -> bool:
    """Moves the call from one of `expect` to `to` and records it; False when the call was not in `expect` (someone
    else moved it: the caller does nothing). `fields` are written in the same UPDATE; `where` narrows the condition
    (e.g. a stale claim). Moving to FAILED needs a FailureCode; any other move clears the failure. With queue_next,
    the step that follows `to` is queued once the transaction commits (`engine` is passed on to it; `requested`: a
    person asked for it, so it runs even with the automatic step switched off, ahead of bulk work)."""
    wanted = _expected(expect)
    for source in wanted:
        if to not in TRANSITIONS.get(source, ()):
            raise TransitionNotAllowed(f"{source} -> {to} is not a transition of a call")
    if to == S.FAILED and code not in FailureCode.values:
        raise TransitionNotAllowed(f"moving a call to failed needs a FailureCode, not {code!r}")
    now = timezone.now()
    values: dict[str, Any] = {"status": to, "updated_at": now}
    if to == S.FAILED:
        values.update(failure_code=code, failure_reason=reason[:MAX_REASON_CHARS])
    else:
        values.update(failure_code="", failure_reason="")
    values.update(fields or {})
    with transaction.atomic():
        rows = Call.objects.select_for_update().filter(pk=call_id, status__in=wanted)
        if where is not None:
            rows = rows.filter(where)
        row = rows.values("status", "company_id", "source", "operator_id", "started_at").first()
        if row is None:
            return False
        Call.objects.filter(pk=call_id).update(**values)
        CallEvent.objects.create(
            company_id=row["company_id"],
            call_id=call_id,
            from_status=row["status"],
            to_status=to,
            code=code if to == S.FAILED else "",
            reason=reason[:MAX_REASON_CHARS],
            actor=by[:120],
        )
        # Webhook events in this transaction: none for a move that rolls back, none lost for one that commits.
        events_for_transition(company_id=row["company_id"], call_id=call_id, from_status=row["status"], to=to)
        if to in FIGURE_STATES or row["status"] in FIGURE_STATES or FIGURE_FIELDS.intersection(fields or ()):
            figures_changed(company_id=row["company_id"], points=[(row["operator_id"], row["started_at"])])
        if queue_next:
            company_id, source = row["company_id"], row["source"]
            transaction.on_commit(
                lambda: pipeline_next(
                    call_id=call_id,
                    company_id=company_id,
                    status=to,
                    source=source,
                    engine=engine,
                    requested=requested,
                )
            )
    if to == S.FAILED:
        logger.warning("call_failed", extra={"company_id": row["company_id"], "call_id": call_id, "code": code})
    return True


def call_count_attempt(*, call_id: int) -> None:
    """One more try of the step the call waits for (not a status change)."""
    Call.objects.filter(pk=call_id).update(attempts=F("attempts") + 1, updated_at=timezone.now())


def new_call(**fields: Any) -> Call:
    """An unsaved call in its first state: NEW, or SKIPPED when nobody answered (nothing to analyse)."""
    return Call(status=S.NEW if fields.get("talk_seconds", 0) > 0 else S.SKIPPED, **fields)


def call_events_created(*, company_id: int, calls: Iterable[tuple[int, str]], by: str) -> None:
    """Records the first step (created as NEW / SKIPPED) of calls just inserted, in one statement."""
    CallEvent.objects.bulk_create(
        [
            CallEvent(company_id=company_id, call_id=call_id, from_status="", to_status=status, actor=by[:120])
            for call_id, status in calls
        ]
    )


def pipeline_next(
    *,
    call_id: int,
    company_id: int,
    status: str,
    source: str = "",
    engine: str | None = None,
    requested: bool = False,
) -> None:
    """Queues the step that follows `status`; the one place that decides what comes next. Never raises into its
    caller (it runs in on-commit hooks): without a broker a failing step is logged and left for the sweeper."""
    from calls.tasks import call_analyse_task, call_fetch_recording_task, call_transcribe_task
    from dialix.queueing import PRIORITY_BULK, PRIORITY_PERSON, task_enqueue

    priority = PRIORITY_PERSON if requested else PRIORITY_BULK
    if status == S.NEW and source != CallSource.UPLOAD:
        task_enqueue(call_fetch_recording_task, call_id, company_id=company_id, priority=priority)
    elif status == S.RECORDING_STORED and (settings.DIALIX_AUTO_TRANSCRIBE or engine or requested):
        task_enqueue(call_transcribe_task, call_id, engine, company_id=company_id, priority=priority)
    elif status == S.TRANSCRIBED and (settings.DIALIX_AUTO_ANALYSE or engine or requested):
        task_enqueue(call_analyse_task, call_id, engine, company_id=company_id, priority=priority)


def calls_transition(*, call_ids: Iterable[int], to: str, expect: str | Iterable[str], by: str, **kwargs) -> list[int]:
    """call_transition for a selection (console actions, the sweeper): the ids that moved."""
    return [call_id for call_id in call_ids if call_transition(call_id=call_id, to=to, expect=expect, by=by, **kwargs)]
