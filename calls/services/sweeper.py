"""Nothing stranded: calls that sat in a non-terminal state past their step's limit are queued again.

A call's message can be lost (the broker was down when a page of the sync committed, a worker died holding a claim, a
message expired): Beat runs `calls_sweep` every minute. Per state, in id order and a batch at a time:

- NEW (a PBX or pushed call without its recording), RECORDING_STORED and TRANSCRIBED wait for a message: the step is
  queued again in place, recorded as a CallEvent by the sweeper;
- TRANSCRIBING and ANALYSING past the hard task time limit (plus a margin) have no live worker: the claim is given
  back (TRANSCRIBING -> RECORDING_STORED, ANALYSING -> TRANSCRIBED) and the step queued.

Every decision is conditional on the call's `updated_at` being what the sweeper read, so any number of sweepers on any
number of machines re-queue a call once, and a call a worker touched meanwhile is left alone. Each re-queue doubles the
wait before the next one (30 min, 1 h, 2 h ... for NEW), so a long backlog is not mistaken for a loss; a call the
sweeper already re-queued MAX_REQUEUES times since a person last acted on it is failed `internal_error` with the
reason instead of looping forever (a recording that kills its worker every time).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from calls.models import Call, CallEvent, CallSource, CallStatus, FailureCode
from calls.services.states import call_transition, pipeline_next
from companies.models import Company
from integrations.models import PbxAccount

logger = logging.getLogger(__name__)

BY = "sweeper"
MAX_REQUEUES = 5
BATCH = 100  # calls per state and run
CLAIM_MARGIN = timedelta(minutes=5)  # past the hard time limit, a claim has no live worker
# Who is not a person: a later sweep only counts the sweeper's re-queues since a person last acted on the call.
MACHINE_ACTORS = Q(actor=BY) | Q(actor="pipeline") | Q(actor__startswith="task:") | Q(actor__startswith="sync:")


@dataclass(frozen=True, slots=True)
class SweepRule:
    status: str
    after: timedelta  # the first re-queue; doubled after each
    waiting_for: str  # for the reason a person reads
    give_back_to: str | None = None  # a claim: moved back here; None: re-queued in place


def sweep_rules() -> list[SweepRule]:
    """The states the sweeper looks at now (a step switched off, e.g. DIALIX_AUTO_TRANSCRIBE, is a resting state)."""
    claim = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) + CLAIM_MARGIN
    rules = [SweepRule(CallStatus.NEW, timedelta(minutes=30), "its recording download")]
    if settings.DIALIX_AUTO_TRANSCRIBE:
        rules.append(SweepRule(CallStatus.RECORDING_STORED, timedelta(minutes=30), "its transcription"))
    rules.append(
        SweepRule(CallStatus.TRANSCRIBING, claim, "its transcription", give_back_to=CallStatus.RECORDING_STORED)
    )
    if settings.DIALIX_AUTO_ANALYSE:
        rules.append(SweepRule(CallStatus.TRANSCRIBED, timedelta(minutes=30), "its analysis"))
    rules.append(SweepRule(CallStatus.ANALYSING, claim, "its analysis", give_back_to=CallStatus.TRANSCRIBED))
    return rules


@dataclass(slots=True)
class SweepResult:
    requeued: int = 0
    given_back: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.requeued + self.given_back + self.failed


def _with_sweeps(calls: QuerySet[Call]) -> QuerySet[Call]:
    """Annotates `sweeps`: the sweeper's re-queues of each call since a person last acted on it."""
    person_at = (
        CallEvent.objects.filter(call_id=OuterRef("pk"))
        .exclude(MACHINE_ACTORS)
        .order_by("-created_at")
        .values("created_at")
    )
    since = Coalesce(Subquery(person_at[:1]), Value(datetime(2000, 1, 1, tzinfo=UTC)))
    sweeps = (
        CallEvent.objects.filter(call_id=OuterRef("pk"), actor=BY, created_at__gt=OuterRef("person_at"))
        .order_by()
        .values("call_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return calls.annotate(person_at=since).annotate(
        sweeps=Coalesce(Subquery(sweeps, output_field=IntegerField()), Value(0))
    )


def _due(rule: SweepRule, now: datetime, batch: int) -> list[dict]:
    calls = Call.objects.filter(status=rule.status, updated_at__lt=now - rule.after)
    if rule.status == CallStatus.NEW:  # only calls a download task is for (pipeline_next and call_fetch_recording)
        calls = calls.filter(recording="").exclude(source=CallSource.UPLOAD)
        calls = calls.filter(company_id__in=PbxAccount.objects.filter(fetch_recordings=True).values("company_id"))
    # The n-th re-queue waits after * 2**n since the call was last touched.
    due = Q(sweeps__gte=MAX_REQUEUES, updated_at__lt=now - rule.after * 2**MAX_REQUEUES)
    for n in range(MAX_REQUEUES):
        due |= Q(sweeps=n, updated_at__lt=now - rule.after * 2**n)
    return list(
        _with_sweeps(calls)
        .filter(due)
        .order_by("id")
        .values("id", "company_id", "source", "status", "updated_at", "sweeps")[:batch]
    )


def _requeue_in_place(row: dict, reason: str) -> bool:
    """The call keeps its state; its step is queued again. One sweeper wins: the touch is conditional."""
    with transaction.atomic():
        touched = Call.objects.filter(pk=row["id"], status=row["status"], updated_at=row["updated_at"]).update(
            updated_at=timezone.now()
        )
        if not touched:
            return False
        CallEvent.objects.create(
            company_id=row["company_id"],
            call_id=row["id"],
            from_status=row["status"],
            to_status=row["status"],
            reason=reason,
            actor=BY,
        )
        transaction.on_commit(
            lambda: pipeline_next(
                call_id=row["id"], company_id=row["company_id"], status=row["status"], source=row["source"]
            )
        )
    return True


def _sweep_one(rule: SweepRule, row: dict, now: datetime) -> str | None:
    minutes = int((now - row["updated_at"]).total_seconds() // 60)
    unchanged = Q(updated_at=row["updated_at"])  # nobody touched it since it was read: one sweeper acts
    if row["sweeps"] >= MAX_REQUEUES:
        moved = call_transition(
            call_id=row["id"],
            to=CallStatus.FAILED,
            expect=rule.status,
            by=BY,
            code=FailureCode.INTERNAL_ERROR,
            reason=(
                f"Stuck in {CallStatus(rule.status).label.lower()} for {minutes} min waiting for {rule.waiting_for}, "
                f"after the sweeper had re-queued it {row['sweeps']} times; given up (run the step again to retry)."
            ),
            where=unchanged,
        )
        return "failed" if moved else None
    reason = (
        f"re-queued: {minutes} min in {CallStatus(rule.status).label.lower()} waiting for {rule.waiting_for} "
        f"(re-queue {row['sweeps'] + 1} of {MAX_REQUEUES})"
    )
    if rule.give_back_to is None:
        return "requeued" if _requeue_in_place(row, reason) else None
    automatic = {
        CallStatus.RECORDING_STORED: settings.DIALIX_AUTO_TRANSCRIBE,
        CallStatus.TRANSCRIBED: settings.DIALIX_AUTO_ANALYSE,
    }[rule.give_back_to]
    moved = call_transition(
        call_id=row["id"],
        to=rule.give_back_to,
        expect=rule.status,
        by=BY,
        reason=f"{reason}; its worker stopped, the claim is given back",
        where=unchanged,
        requested=not automatic,  # the step was asked for by a person (the automatic one is off): honour it
    )
    return "given_back" if moved else None


def calls_sweep(*, batch: int = BATCH, now: datetime | None = None) -> SweepResult:
    """Re-queues stranded calls (at most `batch` per state and run, in id order); what it did."""
    now = now or timezone.now()
    result = SweepResult()
    for rule in sweep_rules():
        for row in _due(rule, now, batch):
            outcome = _sweep_one(rule, row, now)
            if outcome is None:
                continue  # another sweeper or a worker got there first
            setattr(result, outcome, getattr(result, outcome) + 1)
            logger.info(
                "call_swept",
                extra={
                    "company_id": row["company_id"],
                    "call_id": row["id"],
                    "status": row["status"],
                    "outcome": outcome,
                },
            )
    if result.total:
        logger.warning(
            "calls_sweep_found_stranded",
            extra={
                "company_id": None,
                "requeued": result.requeued,
                "given_back": result.given_back,
                "failed": result.failed,
            },
        )
    return result


@dataclass(frozen=True, slots=True)
class SweepSummary:
    requeued: int  # calls the sweeper queued again
    failed: int  # calls it gave up on


def calls_swept_summary(*, company: Company | None, hours: int = 24) -> SweepSummary:
    """What the sweeper did in the last `hours` (one query): for the console's calls list. None: every company
    (Dialix staff)."""
    events = CallEvent.objects.all() if company is None else CallEvent.objects.for_company(company)
    counts = events.filter(actor=BY, created_at__gte=timezone.now() - timedelta(hours=hours)).aggregate(
        requeued=Count("call_id", distinct=True, filter=~Q(to_status=CallStatus.FAILED)),
        failed=Count("call_id", distinct=True, filter=Q(to_status=CallStatus.FAILED)),
    )
    return SweepSummary(requeued=counts["requeued"], failed=counts["failed"])
