"""Swap speakers: a supervisor says the operator and the customer of a call were confused (a mono call's voices
clustered the wrong way round). The turns change sides, the timing metrics follow, the call is analysed again
and keeps its supervisor corrections."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Case, Value, When

from calls.models import Call, CallStatus, Utterance
from calls.services.analysis import REANALYSABLE, calls_reanalyse
from calls.signals import figures_changed
from companies.models import Company
from dialix.errors import DialixError

logger = logging.getLogger(__name__)

OTHER_SIDE = {"operator": "customer", "customer": "operator"}
# A call waiting for or in its analysis may be swapped too; one still being transcribed may not (its turns are
# about to be replaced).
SWAPPABLE = frozenset({*REANALYSABLE, CallStatus.TRANSCRIBED})


class SwapNotPossible(DialixError):
    code, http_status = "swap_not_possible", 409


def swapped_metrics(*, call: Call, turns: Sequence[Utterance]) -> dict[str, Any]:
    """The call's timing metrics with operator and customer exchanged; `turns` are the turns after the swap.

    Swapped pairwise, exactly: operator/customer talk seconds, talk ratio (1 - ratio). Unchanged, because they do not
    depend on who is who: silence share, longest silence, overtalk, interruptions (counted both ways). Recomputed from
    the turns, because the other side's value is not stored: words per minute, first operator word, longest customer
    monologue. Turns are runs of one speaker's words (integrations.stt.speakers.words_to_turns: a turn starts at its
    first word and ends at its last), so these equal what calls.metrics.compute_metrics gives from the words, and
    swapping twice gives the original metrics back."""
    operator = [t for t in turns if t.speaker == "operator"]
    operator_words = sum(len(t.text.split()) for t in operator)
    operator_seconds = call.customer_talk_seconds
    return {
        "operator_talk_seconds": call.customer_talk_seconds,
        "customer_talk_seconds": call.operator_talk_seconds,
        "talk_ratio": None if call.talk_ratio is None else round(1 - call.talk_ratio, 3),
        "operator_words_per_minute": round(operator_words / (operator_seconds / 60), 1) if operator_seconds else None,
        "first_operator_word_seconds": round(min(t.start_ms for t in operator) / 1000, 2) if operator else None,
        "longest_customer_monologue_seconds": round(_longest_run(turns, "customer") / 1000, 2),
    }


def _longest_run(turns: Sequence[Utterance], speaker: str) -> int:
    """Longest stretch of one side's turns with no turn of the other side in between (as metrics._longest_run)."""
    longest, run_start = 0, None
    for turn in sorted(turns, key=lambda t: (t.start_ms, t.id or 0)):
        if turn.speaker == speaker:
            run_start = turn.start_ms if run_start is None else run_start
            longest = max(longest, turn.end_ms - run_start)
        else:
            run_start = None
    return longest


def call_swap_speakers(*, company: Company, call_id: int, by: str) -> Call:
    """Exchanges operator and customer on every turn of the call, recomputes its timing metrics and queues its
    re-analysis (supervisor corrections are kept). One click swaps; a second click swaps back. `by` is the person
    (their username), written to the call's history with the move back to TRANSCRIBED."""
    with transaction.atomic():
        call = Call.objects.for_company(company).select_for_update().get(pk=call_id)
        if call.status not in SWAPPABLE:
            raise SwapNotPossible(
                message="The call is not transcribed yet (or is being transcribed again): swap its speakers after.",
                details={"status": call.status},
            )
        turns = Utterance.objects.filter(call=call, company_id=call.company_id)
        if not turns.exists():
            raise SwapNotPossible(message="The call has no transcript turns to swap.", details={})
        turns.update(
            speaker=Case(When(speaker="operator", then=Value("customer")), default=Value("operator")),
        )
        fields = swapped_metrics(call=call, turns=list(turns.only("id", "speaker", "start_ms", "end_ms", "text")))
        Call.objects.filter(pk=call.pk).update(**fields)
        figures_changed(company_id=call.company_id, points=[(call.operator_id, call.started_at)])  # talk metrics
        calls_reanalyse(
            calls=Call.objects.filter(pk=call.pk),
            by=f"user:{by}",
            reason=f"speakers swapped by {by}",
        )
    logger.info("call_speakers_swapped", extra={"company_id": call.company_id, "call_id": call.pk})
    return Call.objects.get(pk=call.pk)
