"""Checklist versions, call analysis and supervisors' corrections. Scores are computed here, never by a model."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, F, Max, Q, QuerySet
from django.utils import timezone

from calls.models import Call, CallStatus, Transcript, Utterance
from calls.services.pipeline import call_mark_failed
from checklists.evidence import TranscriptIndex, check_verdict
from checklists.models import (
    Answer,
    CallAnalysis,
    Checklist,
    ChecklistItem,
    ChecklistVersion,
    ItemResult,
    ResultSource,
    Scorecard,
    VersionItem,
)
from checklists.scoring import ScoredItem, score_items
from companies.models import Company
from dialix.errors import DialixError
from integrations.errors import BadResponse, PermanentIntegrationError, TransientIntegrationError
from integrations.llm.base import Analysis, AnalysisRequest, ItemSpec, TurnText
from integrations.models import EngineSettings

logger = logging.getLogger(__name__)

MALFORMED_RETRIES = 1  # a malformed or schema-violating answer is asked again once, then the call fails
REANALYSABLE = [CallStatus.TRANSCRIBED, CallStatus.DONE, CallStatus.FAILED, CallStatus.ANALYSING]


class AnalysisRetry(Exception):
    """The analyser had a passing problem (rate limit, 5xx, timeout): the task retries later."""


# --- checklists and versions ---------------------------------------------------------------------------------------


def _snapshot(checklist: Checklist) -> list[tuple]:
    items = (
        ChecklistItem.objects.filter(checklist=checklist)
        .select_related("section")
        .order_by("section__order", "section_id", "order", "id")
    )
    return [
        (i.pk, i.section.title, i.criterion.strip(), i.weight, i.is_critical, i.allow_na, tuple(i.examples), i.speaker)
        for i in items
    ]


def _version_snapshot(version: ChecklistVersion) -> list[tuple]:
    return [
        (
            v.source_item_id,
            v.section_title,
            v.criterion,
            v.weight,
            v.is_critical,
            v.allow_na,
            tuple(v.examples),
            v.speaker,
        )
        for v in version.items.order_by("order", "id")
    ]


@transaction.atomic
def checklist_publish(*, checklist: Checklist, by=None) -> ChecklistVersion | None:
    """Freezes the checklist's current items as a new version when they differ from the latest one.
    Returns the new version, or None when nothing changed (publishing twice makes one version)."""
    checklist = Checklist.objects.select_for_update().get(pk=checklist.pk)
    latest = checklist.versions.order_by("-number").first()
    snapshot = _snapshot(checklist)
    if latest is not None and _version_snapshot(latest) == snapshot:
        return None
    version = ChecklistVersion.objects.create(
        company_id=checklist.company_id, checklist=checklist, number=(latest.number + 1) if latest else 1, created_by=by
    )
    VersionItem.objects.bulk_create(
        [
            VersionItem(
                company_id=checklist.company_id,
                version=version,
                source_item_id=item_id,
                section_title=section,
                criterion=criterion,
                weight=weight,
                is_critical=critical,
                allow_na=allow_na,
                examples=list(examples),
                speaker=speaker,
                order=index,
            )
            for index, (item_id, section, criterion, weight, critical, allow_na, examples, speaker) in enumerate(
                snapshot
            )
        ]
    )
    return version


def versions_for_call(*, call: Call) -> list[ChecklistVersion]:
    """The latest version of every active checklist that applies to the call (its operator and direction)."""
    checklists = (
        Checklist.objects.for_company(call.company)
        .filter(is_active=True)
        .annotate(operator_count=Count("operators"), latest=Max("versions__number"))
        .filter(latest__isnull=False)
    )
    if call.operator_id:
        checklists = checklists.filter(Q(operator_count=0) | Q(operators=call.operator_id))
    else:
        checklists = checklists.filter(operator_count=0)
    chosen = [
        c
        for c in checklists.distinct()
        if not c.directions or (isinstance(c.directions, list) and call.direction in c.directions)
    ]
    if not chosen:
        return []
    wanted = Q()
    for checklist in chosen:
        wanted |= Q(checklist_id=checklist.pk, number=checklist.latest)
    return list(
        ChecklistVersion.objects.filter(wanted)
        .select_related("checklist")
        .prefetch_related("items")
        .order_by("checklist__name")
    )


# --- analysis ------------------------------------------------------------------------------------------------------


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
    )


def _claim(call_id: int) -> bool:
    """TRANSCRIBED -> ANALYSING and one more attempt, in one conditional UPDATE: only one worker wins."""
    return bool(
        Call.objects.filter(pk=call_id, status=CallStatus.TRANSCRIBED).update(
            status=CallStatus.ANALYSING, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
    )


def call_analyse(*, call_id: int, engine: str | None = None) -> Call | None:
    """Analyses a transcribed call against its checklists. Idempotent: only a TRANSCRIBED call is taken; the
    analysis, scorecards and item results replace earlier ones in one transaction. Never runs speech-to-text."""
    if not _claim(call_id):
        return Call.objects.filter(pk=call_id).first()
    call = Call.objects.select_related("company").get(pk=call_id)
    from integrations.llm.registry import get_analyzer

    versions = versions_for_call(call=call)
    request = analysis_request_for(call=call, versions=versions)
    if not request.turns:
        call_mark_failed(call_id=call_id, code="analysis_no_transcript", reason="The call has no transcript turns.")
        return Call.objects.get(pk=call_id)
    analyzer = get_analyzer(_analyzer_name(call, engine))
    analysis: Analysis | None = None
    for attempt in range(MALFORMED_RETRIES + 1):
        try:
            analysis = analyzer.analyze(request)
            break
        except BadResponse as exc:  # nonsense from the model: once more, then give up with the reason
            if attempt == MALFORMED_RETRIES:
                call_mark_failed(
                    call_id=call_id,
                    code="analysis_bad_response",
                    reason=f"The analyser answered nonsense twice: {type(exc).__name__}: {exc}",
                )
                return Call.objects.get(pk=call_id)
            logger.warning("analysis_malformed_retry", extra={"company_id": call.company_id, "call_id": call_id})
        except TransientIntegrationError as exc:
            Call.objects.filter(pk=call_id, status=CallStatus.ANALYSING).update(status=CallStatus.TRANSCRIBED)
            raise AnalysisRetry(str(exc)) from exc
        except PermanentIntegrationError as exc:
            call_mark_failed(call_id=call_id, code="analysis_failed", reason=f"{type(exc).__name__}: {exc}")
            return Call.objects.get(pk=call_id)
    low_confidence = Transcript.objects.filter(call=call, low_confidence=True).exists()
    _save_analysis(call, versions, request, analysis, low_confidence=low_confidence)
    return Call.objects.get(pk=call_id)


def _save_analysis(
    call: Call, versions: list[ChecklistVersion], request: AnalysisRequest, analysis: Analysis, *, low_confidence: bool
) -> None:
    """low_confidence: the transcript is not reliable (e.g. Uzbek read offline), so no scorecard may auto-fail the call
    on it; every scorecard waits for a supervisor's review instead."""
    verdicts = {v.key: v for v in analysis.verdicts}
    specs = {item.key: item for item in request.items}
    index = TranscriptIndex(request.turns)
    source = ResultSource.RULES if analysis.engine.startswith("offline") else ResultSource.MODEL
    usage = analysis.usage
    with transaction.atomic():
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
                outcome.score,
                outcome.auto_fail and not low_confidence,
                outcome.needs_review or low_confidence,
            )
        Scorecard.objects.bulk_create([s for s, _ in scorecards])
        ItemResult.objects.bulk_create(results)
        _update_call_score(call.pk, status=CallStatus.DONE, from_status=CallStatus.ANALYSING)
    logger.info("call_analysed", extra={"company_id": call.company_id, "call_id": call.pk, "engine": analysis.engine})


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


def _update_call_score(call_id: int, *, status: str | None = None, from_status: str | None = None) -> None:
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
    qs = Call.objects.filter(pk=call_id)
    if status:
        fields.update(status=status, failure_code="", failure_reason="", attempts=0)
        qs = qs.filter(status=from_status)
    qs.update(**fields)


def calls_reanalyse(*, calls: QuerySet[Call], engine: str | None = None) -> int:
    """Queues a new analysis of calls that have a transcript (the transcript is reused; STT is not run again)."""
    from calls.tasks import call_analyse_task, task_enqueue

    ids = list(calls.filter(status__in=REANALYSABLE, transcript__isnull=False).values_list("id", flat=True))
    Call.objects.filter(pk__in=ids).update(
        status=CallStatus.TRANSCRIBED, failure_code="", failure_reason="", attempts=0, updated_at=timezone.now()
    )
    transaction.on_commit(lambda: [task_enqueue(call_analyse_task, call_id, engine) for call_id in ids])
    return len(ids)


# --- human in the loop ---------------------------------------------------------------------------------------------


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
    return result


def scorecard_recompute(*, scorecard_id: int) -> Scorecard:
    scorecard = Scorecard.objects.select_for_update().get(pk=scorecard_id)
    rows = scorecard.results.select_related("version_item")
    outcome = score_items(
        ScoredItem(answer=r.answer, weight=r.version_item.weight, is_critical=r.version_item.is_critical) for r in rows
    )
    low_confidence = Transcript.objects.filter(call_id=scorecard.call_id, low_confidence=True).exists()
    scorecard.score = outcome.score
    scorecard.auto_fail = outcome.auto_fail and not low_confidence  # the same rule as at analysis time
    scorecard.needs_review = outcome.needs_review or low_confidence
    scorecard.save(update_fields=["score", "auto_fail", "needs_review", "updated_at"])
    _update_call_score(scorecard.call_id)
    return scorecard
