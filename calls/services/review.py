"""A person's review of a call (issue 12): the review queue, claiming a call (one reviewer at a time), marking it
reviewed, releasing it, and coaching notes.

The review lives on the Call (one review per call, covering all its scorecards): the calls list filters and flags by
it without a join, and a reviewer reviews the call as a whole, not each checklist apart. It never touches
Call.status, which is calls.services.states' only. Every write is one conditional UPDATE: two supervisors pressing
Claim at once get one winner, the other a typed error naming who has it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Case, ExpressionWrapper, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from calls.models import Call, CallStatus, CoachingNote, ReviewState
from calls.webhooks import call_event_emit
from companies.models import Company
from dialix.errors import DialixError
from integrations.webhooks.models import WebhookEventType

logger = logging.getLogger(__name__)

CLAIM_TTL = timedelta(hours=2)  # a claim left this long (a closed tab) may be taken by someone else
NOTE_MAX_CHARS = 4000
_HASH = 2654435761  # Knuth's multiplicative hash: call ids spread evenly over 0..99, stable, computed in SQL


class ReviewNotPossible(DialixError):
    code, http_status = "review_not_possible", 409
    default_message = gettext_lazy("This call cannot be reviewed now.")


class CoachingNoteInvalid(DialixError):
    code = "coaching_note_invalid"
    default_message = gettext_lazy("The coaching note is not valid.")


def call_in_sample(*, call_id: int, percent: int) -> bool:
    """Whether a call is in the company's random review sample: the same answer every time (so the queue is stable)
    and, over each operator's calls of a week, `percent` of them on average."""
    return (call_id * _HASH) % 100 < percent


def _sample_bucket() -> ExpressionWrapper:
    return ExpressionWrapper((F("id") * Value(_HASH)) % Value(100), output_field=IntegerField())


def review_queue(*, company: Company) -> QuerySet[Call]:
    """Analysed calls not yet reviewed that need a person (auto-fail, needs review, low-confidence transcript) or are
    in the company's sample, oldest first. Each row has `queue_reason` (auto_fail / needs_review / low_confidence /
    sample)."""
    flagged = Q(auto_fail=True) | Q(needs_review=True) | Q(transcript__low_confidence=True)
    percent = company.review_sample_percent
    calls = (
        Call.objects.for_company(company)
        .filter(status=CallStatus.DONE)
        .exclude(review_state=ReviewState.REVIEWED)  # the two predicates of the partial index calls_call_review_queue
        .annotate(sample_bucket=_sample_bucket())
        .filter(flagged | Q(sample_bucket__lt=percent))
        .annotate(
            queue_reason=Case(
                When(auto_fail=True, then=Value("auto_fail")),
                When(transcript__low_confidence=True, then=Value("low_confidence")),
                When(needs_review=True, then=Value("needs_review")),
                default=Value("sample"),
            )
        )
    )
    return calls.select_related("operator", "review_claimed_by").order_by("started_at", "id")


def _claim_is_free(*, by, now) -> Q:
    """The calls `by` may claim: nobody's, their own, or someone's claim left past CLAIM_TTL."""
    return (
        Q(review_state=ReviewState.NOT_REVIEWED)
        | Q(review_state=ReviewState.IN_REVIEW, review_claimed_by=by)
        | Q(review_state=ReviewState.IN_REVIEW, review_claimed_at__lt=now - CLAIM_TTL)
    )


def _refusal(*, company: Company, call_id: int, by) -> ReviewNotPossible:
    call = Call.objects.for_company(company).select_related("review_claimed_by", "reviewed_by").filter(pk=call_id)
    found = call.first()
    if found is None:
        return ReviewNotPossible(gettext("No such call."), details={"call": call_id})
    if found.review_state == ReviewState.REVIEWED:
        who = found.reviewed_by.get_username() if found.reviewed_by else gettext("someone")
        return ReviewNotPossible(gettext("Already reviewed by %(who)s.") % {"who": who}, details={"reviewed_by": who})
    who = found.review_claimed_by.get_username() if found.review_claimed_by else gettext("someone")
    return ReviewNotPossible(gettext("%(who)s is reviewing this call.") % {"who": who}, details={"claimed_by": who})


def review_claim(*, company: Company, call_id: int, by) -> Call:
    """`by` takes the call's review: one reviewer at a time (a conditional UPDATE; 0 rows = someone else has it)."""
    now = timezone.now()
    moved = (
        Call.objects.for_company(company)
        .filter(_claim_is_free(by=by, now=now), pk=call_id)
        .update(review_state=ReviewState.IN_REVIEW, review_claimed_by=by, review_claimed_at=now)
    )
    if not moved:
        raise _refusal(company=company, call_id=call_id, by=by)
    logger.info("review_claimed", extra={"company_id": company.pk, "call_id": call_id, "user_id": by.pk})
    return Call.objects.for_company(company).get(pk=call_id)


@transaction.atomic  # the call.reviewed event commits with the review
def review_mark_reviewed(*, company: Company, call_id: int, by) -> Call:
    """`by` has reviewed the call: done whether they claimed it first or not, unless someone else holds the claim."""
    now = timezone.now()
    moved = (
        Call.objects.for_company(company)
        .filter(_claim_is_free(by=by, now=now), pk=call_id)
        .update(
            review_state=ReviewState.REVIEWED,
            reviewed_by=by,
            reviewed_at=now,
            review_claimed_by=None,
            review_claimed_at=None,
        )
    )
    if not moved:
        raise _refusal(company=company, call_id=call_id, by=by)
    logger.info("review_done", extra={"company_id": company.pk, "call_id": call_id, "user_id": getattr(by, "pk", None)})
    call_event_emit(company_id=company.pk, call_id=call_id, event_type=WebhookEventType.CALL_REVIEWED)
    return Call.objects.for_company(company).get(pk=call_id)


def review_release(*, company: Company, call_id: int, by) -> Call:
    """`by` gives their claim back: the call is not reviewed and free for anyone."""
    moved = (
        Call.objects.for_company(company)
        .filter(pk=call_id, review_state=ReviewState.IN_REVIEW, review_claimed_by=by)
        .update(review_state=ReviewState.NOT_REVIEWED, review_claimed_by=None, review_claimed_at=None)
    )
    if not moved:
        raise ReviewNotPossible(gettext("You are not reviewing this call."))
    return Call.objects.for_company(company).get(pk=call_id)


def review_claim_next(*, company: Company, by, candidates: int = 20) -> Call | None:
    """Claims the oldest call of the queue nobody is reviewing (calls `by` already holds are skipped: Next moves on).
    None when the queue has nothing left to take."""
    now = timezone.now()
    while True:
        free = review_queue(company=company).filter(
            Q(review_state=ReviewState.NOT_REVIEWED)
            | Q(review_state=ReviewState.IN_REVIEW, review_claimed_at__lt=now - CLAIM_TTL)
        )
        ids = list(free.values_list("pk", flat=True)[:candidates])
        if not ids:
            return None
        for call_id in ids:
            try:
                return review_claim(company=company, call_id=call_id, by=by)
            except ReviewNotPossible:
                continue  # taken by someone else in between: the next one


def parse_moment(text: str) -> int | None:
    """'1:15' or '75' (seconds) -> 75 000 ms; '' -> None. ValueError when unreadable."""
    text = (text or "").strip()
    if not text:
        return None
    minutes, _, seconds = text.rpartition(":")
    if not seconds.isdigit() or (minutes and not minutes.isdigit()) or (minutes and int(seconds) > 59):
        raise ValueError(text)
    return (int(minutes or 0) * 60 + int(seconds)) * 1000


@transaction.atomic
def coaching_note_add(*, company: Company, call_id: int, author, text: str, at_ms: int | None = None) -> CoachingNote:
    """A supervisor's note on a call for its operator, optionally at a moment of the recording."""
    call = Call.objects.for_company(company).filter(pk=call_id).only("pk", "operator_id", "duration_seconds").first()
    if call is None:
        raise CoachingNoteInvalid(gettext("No such call."), details={"call": [gettext("No such call.")]})
    text = (text or "").strip()
    errors: dict[str, list[str]] = {}
    if not text:
        errors["text"] = [gettext("Write the note.")]
    elif len(text) > NOTE_MAX_CHARS:
        errors["text"] = [gettext("At most %(count)s characters.") % {"count": NOTE_MAX_CHARS}]
    if at_ms is not None and (at_ms < 0 or (call.duration_seconds and at_ms > call.duration_seconds * 1000)):
        errors["at"] = [gettext("The moment is outside the call.")]
    if errors:
        raise CoachingNoteInvalid(" ".join(m for found in errors.values() for m in found), details=errors)
    note = CoachingNote.objects.create(
        company=company, call=call, operator_id=call.operator_id, author=author, at_ms=at_ms, text=text
    )
    logger.info("coaching_note_added", extra={"company_id": company.pk, "call_id": call.pk, "note_id": note.pk})
    return note
