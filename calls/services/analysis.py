"""Call -> analysis and scorecards: the analyser (offline rules or an LLM) reads the stored transcript and the
checklists that apply; evidence is verified and scores are computed in code (checklists.evidence, .scoring).
Supervisors' corrections live here too, since they change the call's score."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, F, Q, QuerySet
from django.utils import timezone

from calls.models import Call, CallStatus, FailureCode, Transcript, Utterance
from calls.services.crm import crm_write_back_queue
from calls.services.retry import StepRetry
from calls.services.states import call_transition, calls_transition, pipeline_next
from calls.signals import figures_changed
from calls.webhooks import call_event_emit
from checklists.evidence import TranscriptIndex, check_verdict
from checklists.models import (
    Answer,
    CallAnalysis,
    ChecklistVersion,
    ItemResult,
    ResultSource,
    Scorecard,
    VersionItem,
)
from checklists.scoring import ScoredItem, score_items
from checklists.services import versions_for
from companies.models import Company
from dialix.errors import DialixError
from integrations.errors import BadResponse, PermanentIntegrationError, TransientIntegrationError
from integrations.llm.base import Analysis, AnalysisRequest, ItemSpec, TurnText
from integrations.models import EngineSettings
from integrations.webhooks.models import WebhookEventType

logger = logging.getLogger(__name__)

MALFORMED_RETRIES = 1  # a malformed or schema-violating answer is asked again once, then the call fails
REANALYSABLE = [CallStatus.DONE, CallStatus.FAILED, CallStatus.ANALYSING]  # moved back to TRANSCRIBED
STEP = "task:analyse"


def versions_for_call(*, call: Call) -> list[ChecklistVersion]:
    """The latest version of every active checklist that applies to the call (its operator and direction)."""
    return versions_for(company=call.company, operator_id=call.operator_id, direction=call.direction)


def _analyzer_name(call: Call, requested: str | None) -> str:
    if requested:
        return requested
    prefs = EngineSettings.objects.filter(company_id=call.company_id).only("analyzer_engine").first()
    return (prefs.analyzer_engine if prefs else "") or settings.DIALIX_ANALYZER_ENGINE


def _item_spec(item: VersionItem, checklist_name: str) -> ItemSpec:
    return ItemSpec(
        key=str(item.pk),
        checklist=checklist_name,
        section=item.section_title,
        criterion=item.criterion,
        critical=item.is_critical,
        allow_na=item.allow_na,
        examples=tuple(item.examples),
        speaker=item.speaker,
    )


def analysis_request_for(*, call: Call, versions: list[ChecklistVersion]) -> AnalysisRequest:
    turns = tuple(
        TurnText(speaker=u.speaker, start_ms=u.start_ms, end_ms=u.end_ms, text=u.text)
        for u in Utterance.objects.filter(call=call, company_id=call.company_id).order_by("start_ms", "id")
    )
    items = tuple(_item_spec(item, v.checklist.name) for v in versions for item in v.items.all())
    languages = list(call.company.languages) or ["ru"]
    answer_language = call.language if call.language in languages else languages[0]
    return AnalysisRequest(
        turns=turns,
        items=items,
        answer_language=answer_language,
        company_name=call.company.name,
        direction=call.direction,
        transcript_language=call.language or None,
        # The words are not reliable (e.g. Uzbek read offline): the analyser judges only what does not depend on them.
        low_confidence=Transcript.objects.filter(call=call, low_confidence=True).exists(),
    )


def _claim(call_id: int) -> bool:
    """TRANSCRIBED -> ANALYSING and one more attempt, in one conditional UPDATE: only one worker wins."""
    return call_transition(
        call_id=call_id,
        to=CallStatus.ANALYSING,
        expect=CallStatus.TRANSCRIBED,
        by=STEP,
        fields={"attempts": F("attempts") + 1},
        queue_next=False,
    )


def _fail(call_id: int, code: str, reason: str) -> Call:
    call_transition(
        call_id=call_id, to=CallStatus.FAILED, expect=CallStatus.ANALYSING, by=STEP, code=code, reason=reason
    )
    return Call.objects.get(pk=call_id)


def call_analyse(*, call_id: int, engine: str | None = None) -> Call | None:
    """Analyses a transcribed call against its checklists. Idempotent: only a TRANSCRIBED call is taken; the
    analysis, scorecards and item results replace earlier ones in one transaction. Never runs speech-to-text."""
    if not _claim(call_id):
        return Call.objects.filter(pk=call_id).first()
    try:
        return _analyse_claimed(call_id, engine)
    except StepRetry:
        raise
    except Exception as exc:  # the step's boundary: record it on the call, release the claim, keep the worker alive
        logger.exception("call_analyse_internal_error", extra={"call_id": call_id})
        return _fail(call_id, FailureCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")


def _analyse_claimed(call_id: int, engine: str | None) -> Call:
    call = Call.objects.select_related("company").get(pk=call_id)
    from integrations.llm.registry import get_analyzer

    versions = versions_for_call(call=call)
    request = analysis_request_for(call=call, versions=versions)
    if not request.turns:
        return _fail(call_id, FailureCode.ANALYSIS_NO_TRANSCRIPT, "The call has no transcript turns.")
    analyzer_name = _analyzer_name(call, engine)
    if request.low_confidence:
        # Words nobody can trust are not sent to a model (nor paid for): the call keeps its timing figures and is
        # marked not scored, needing review (issue 17).
        analyzer_name = "offline"
    analyzer = get_analyzer(analyzer_name)
    from calls.redaction_policy import analysis_request_redacted, llm_gets_redacted_text

    if llm_gets_redacted_text(company=call.company, analyzer=analyzer_name):
        # Cards, phones, passports, PINFL and e-mails leave as [CARD]… (issue 16); evidence is then checked, and
        # stored, against the same redacted turns.
        request = analysis_request_redacted(request)
    analysis: Analysis | None = None
    for attempt in range(MALFORMED_RETRIES + 1):
        try:
            analysis = analyzer.analyze(request)
            break
        except BadResponse as exc:  # nonsense from the model: once more, then give up with the reason
            if attempt == MALFORMED_RETRIES:
                return _fail(
                    call_id,
                    FailureCode.ANALYSIS_BAD_RESPONSE,
                    f"The analyser answered nonsense twice: {type(exc).__name__}: {exc}",
                )
            logger.warning("analysis_malformed_retry", extra={"company_id": call.company_id, "call_id": call_id})
        except TransientIntegrationError as exc:
            call_transition(
                call_id=call_id,
                to=CallStatus.TRANSCRIBED,
                expect=CallStatus.ANALYSING,
                by=STEP,
                reason=f"retried later: {type(exc).__name__}: {exc}",
                queue_next=False,  # the task's retry brings it back
            )
            raise StepRetry(exc) from exc
        except PermanentIntegrationError as exc:
            return _fail(call_id, FailureCode.ANALYSIS_FAILED, f"{type(exc).__name__}: {exc}")
    _save_analysis(call, versions, request, analysis, low_confidence=request.low_confidence)
    return Call.objects.get(pk=call_id)


def _save_analysis(
    call: Call, versions: list[ChecklistVersion], request: AnalysisRequest, analysis: Analysis, *, low_confidence: bool
) -> None:
    """low_confidence: the transcript is not reliable (e.g. Uzbek read offline), so no scorecard is scored or may
    auto-fail the call on it (a score of 0 from unreadable words would sink the operator's averages): the score is
    None, every scorecard waits for a supervisor's review, and the item results are kept for reference."""
    verdicts = {v.key: v for v in analysis.verdicts}
    specs = {item.key: item for item in request.items}
    index = TranscriptIndex(request.turns)
    source = ResultSource.RULES if analysis.engine.startswith("offline") else ResultSource.MODEL
    usage = analysis.usage
    with transaction.atomic():
        # The move to DONE comes first and holds the call's row: if someone moved the call meanwhile (a new
        # re-analysis, a re-transcription), this answer is stale and nothing of it is written.
        if not call_transition(
            call_id=call.pk,
            to=CallStatus.DONE,
            expect=CallStatus.ANALYSING,
            by=STEP,
            fields={
                "attempts": 0,
                "customer_sentiment": analysis.customer_sentiment,
                "outcome": analysis.outcome[:20],
            },
        ):
            return
        corrections = _supervisor_corrections(call)
        CallAnalysis.objects.filter(call=call).delete()
        Scorecard.objects.filter(call=call).delete()  # cascades to item results: replace, never append
        CallAnalysis.objects.create(
            company_id=call.company_id,
            call=call,
            engine=analysis.engine,
            summary=analysis.summary,
            customer_sentiment=analysis.customer_sentiment,
            customer_sentiment_reason=analysis.customer_sentiment_reason[:300],
            operator_sentiment=analysis.operator_sentiment,
            operator_sentiment_reason=analysis.operator_sentiment_reason[:300],
            purpose=analysis.purpose[:300],
            outcome=analysis.outcome,
            topics=list(analysis.topics),
            customer_satisfied=analysis.customer_satisfied,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            llm_requests=usage.requests,
            cost_usd=None if usage.cost_usd is None else Decimal(str(round(usage.cost_usd, 6))),
        )
        results: list[ItemResult] = []
        scorecards: list[tuple[Scorecard, list[ScoredItem]]] = []
        for version in versions:
            scorecard = Scorecard(company_id=call.company_id, call=call, version=version)
            scored: list[ScoredItem] = []
            for item in version.items.all():
                verdict = verdicts.get(str(item.pk))
                if verdict is None:
                    answer, checked = Answer.NEEDS_REVIEW, None
                else:
                    checked = check_verdict(verdict, specs[str(item.pk)], index)
                    answer = checked.answer
                result = ItemResult(
                    company_id=call.company_id,
                    scorecard=scorecard,
                    call=call,
                    version_item=item,
                    answer=answer,
                    evidence_quote=checked.evidence_quote if checked else "",
                    evidence_speaker=checked.evidence_speaker if checked else "",
                    evidence_ms=checked.evidence_ms if checked else None,
                    reason=checked.reason if checked else "The analyser gave no answer for this item.",
                    source=source,
                )
                correction = corrections.get(item.pk) or corrections.get(_item_identity(item))
                if correction is not None:
                    # The supervisor's answer stays the answer; the machine's new answer is kept beside it, so the
                    # call page can show where the two now disagree.
                    result.original_answer, result.original_source = result.answer, result.source
                    result.answer, result.source = correction.answer, ResultSource.HUMAN
                    result.override_reason = correction.override_reason
                    result.overridden_by_id = correction.overridden_by_id
                    result.overridden_at = correction.overridden_at
                scored.append(ScoredItem(answer=result.answer, weight=item.weight, is_critical=item.is_critical))
                results.append(result)
            scorecards.append((scorecard, scored))
        for scorecard, scored in scorecards:
            outcome = score_items(scored)
            scorecard.score, scorecard.auto_fail, scorecard.needs_review = (
                None if low_confidence else outcome.score,
                outcome.auto_fail and not low_confidence,
                outcome.needs_review or low_confidence,
            )
        Scorecard.objects.bulk_create([s for s, _ in scorecards])
        ItemResult.objects.bulk_create(results)
        _update_call_score(call.pk)
        crm_write_back_queue(call_id=call.pk, company_id=call.company_id)  # the CRM outbox row, in this transaction
    logger.info("call_analysed", extra={"company_id": call.company_id, "call_id": call.pk, "engine": analysis.engine})
    from calls.services.alerts import call_alerts_queue

    call_alerts_queue(company_id=call.company_id, call_id=call.pk)  # evaluated on commit (issue 16)


def _item_identity(item: VersionItem) -> tuple:
    """What makes a corrected item the same question in a newer version: its source item and its wording."""
    return (item.source_item_id, item.criterion, item.allow_na, item.speaker)


def _supervisor_corrections(call: Call) -> dict:
    """The call's supervisor answers, by version item and by item identity (an unchanged item of a newer version)."""
    found: dict = {}
    for result in ItemResult.objects.filter(call=call, source=ResultSource.HUMAN).select_related("version_item"):
        found[result.version_item_id] = result
        if result.version_item.source_item_id is not None:
            found.setdefault(_item_identity(result.version_item), result)
    return found


def _update_call_score(call_id: int) -> None:
    agg = Scorecard.objects.filter(call_id=call_id).aggregate(
        score=Avg("score"),
        auto_fail=Count("id", filter=Q(auto_fail=True)),
        needs_review=Count("id", filter=Q(needs_review=True)),
    )
    fields = {
        "score": None if agg["score"] is None else round(agg["score"], 1),
        "auto_fail": bool(agg["auto_fail"]),
        "needs_review": bool(agg["needs_review"]),
        "updated_at": timezone.now(),
    }
    Call.objects.filter(pk=call_id).update(**fields)  # the scores only; the status is call_transition's
    point = Call.objects.filter(pk=call_id).values_list("company_id", "operator_id", "started_at").first()
    if point is not None:  # the dashboard's rollups (issue 15): analysed, re-analysed, corrected, recomputed
        figures_changed(company_id=point[0], points=[(point[1], point[2])])


def calls_reanalyse(*, calls: QuerySet[Call], engine: str | None = None, by: str = "console", reason: str = "") -> int:
    """Queues a new analysis of calls that have a transcript (the transcript is reused; STT is not run again).
    `reason` goes to each moved call's history (by default: a re-analysis was asked for)."""
    with_transcript = calls.filter(transcript__isnull=False)
    waiting = list(with_transcript.filter(status=CallStatus.TRANSCRIBED).values("id", "company_id"))
    moved = calls_transition(
        call_ids=list(with_transcript.filter(status__in=REANALYSABLE).values_list("id", flat=True)),
        to=CallStatus.TRANSCRIBED,
        expect=REANALYSABLE,
        by=by,
        reason=reason or ("re-analysis asked for" + (f" with {engine}" if engine else "")),
        fields={"attempts": 0},
        engine=engine,
        requested=True,
    )
    for row in waiting:  # already waiting for analysis: queue it again (a lost message, or another engine)
        transaction.on_commit(
            lambda row=row: pipeline_next(
                call_id=row["id"],
                company_id=row["company_id"],
                status=CallStatus.TRANSCRIBED,
                engine=engine,
                requested=True,
            )
        )
    return len(moved) + len(waiting)


class OverrideInvalid(DialixError):
    code, http_status = "invalid", 400


@transaction.atomic
def item_result_override(*, company: Company, result_id: int, answer: str, reason: str, by) -> ItemResult:
    """A supervisor's correction of one item: the original answer is kept, who and when recorded, score recomputed."""
    if answer not in (Answer.MET, Answer.NOT_MET, Answer.NA):
        raise OverrideInvalid(details={"answer": ["Choose met, not met or not applicable."]})
    if not reason.strip():
        raise OverrideInvalid(details={"reason": ["Say why the answer is changed."]})
    result = (
        ItemResult.objects.for_company(company).select_for_update().select_related("version_item").get(pk=result_id)
    )
    if answer == Answer.NA and not result.version_item.allow_na:
        raise OverrideInvalid(details={"answer": ["This item does not allow 'not applicable'."]})
    if not result.original_answer:
        result.original_answer, result.original_source = result.answer, result.source
    result.answer, result.source = answer, ResultSource.HUMAN
    result.override_reason, result.overridden_by, result.overridden_at = reason.strip(), by, timezone.now()
    result.save()
    scorecard_recompute(scorecard_id=result.scorecard_id)
    call_event_emit(company_id=company.pk, call_id=result.call_id, event_type=WebhookEventType.CALL_CORRECTED)
    crm_write_back_queue(call_id=result.call_id, company_id=company.pk)  # updates the comment written before
    return result


def scorecard_recompute(*, scorecard_id: int) -> Scorecard:
    scorecard = Scorecard.objects.select_for_update().get(pk=scorecard_id)
    rows = scorecard.results.select_related("version_item")
    outcome = score_items(
        ScoredItem(answer=r.answer, weight=r.version_item.weight, is_critical=r.version_item.is_critical) for r in rows
    )
    low_confidence = Transcript.objects.filter(call_id=scorecard.call_id, low_confidence=True).exists()
    scorecard.score = None if low_confidence else outcome.score  # not scored: see _save_analysis
    scorecard.auto_fail = outcome.auto_fail and not low_confidence  # the same rule as at analysis time
    scorecard.needs_review = outcome.needs_review or low_confidence
    scorecard.save(update_fields=["score", "auto_fail", "needs_review", "updated_at"])
    _update_call_score(scorecard.call_id)
    return scorecard
