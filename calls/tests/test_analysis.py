import pytest

from calls.models import Call, CallStatus, Transcript
from calls.services.analysis import OverrideInvalid, call_analyse, calls_reanalyse, item_result_override
from calls.tests.factories import transcribed_call_from_fixture
from checklists.demo import demo_checklists
from checklists.models import Answer, CallAnalysis, ChecklistItem, ItemResult, ResultSource, Scorecard
from checklists.scoring import ScoredItem, score_items
from checklists.services import checklist_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def checklists(company):
    company.name = "Dialix Market"
    company.save()
    return demo_checklists(company)


def test_offline_analysis_scores_every_applicable_checklist_with_evidence(company, checklists):
    call = transcribed_call_from_fixture(company, "en-01-sale")
    call = call_analyse(call_id=call.pk)
    assert call.status == CallStatus.DONE
    analysis = CallAnalysis.objects.get(call=call)
    assert analysis.engine.startswith("offline") and analysis.summary
    cards = list(Scorecard.objects.filter(call=call))
    assert len(cards) == (2 if call.direction == "inbound" else 1)  # support script is inbound only
    greeting = ItemResult.objects.get(
        call=call,
        version_item__criterion__contains="(Greets the customer)",
        scorecard__version__checklist__name__startswith="Sales",
    )
    assert greeting.answer == Answer.MET and greeting.source == ResultSource.RULES
    assert greeting.evidence_quote and greeting.evidence_ms is not None
    for card in cards:
        rows = card.results.select_related("version_item")
        expected = score_items(ScoredItem(r.answer, r.version_item.weight, r.version_item.is_critical) for r in rows)
        assert (card.score, card.auto_fail) == (expected.score, expected.auto_fail)


def test_analysis_twice_and_reanalysis_never_duplicate_and_never_rerun_stt(company, checklists):
    call = transcribed_call_from_fixture(company, "ru-02-complaint")
    transcript_id = Transcript.objects.get(call=call).pk
    call_analyse(call_id=call.pk)
    assert call_analyse(call_id=call.pk).status == CallStatus.DONE  # a second run finds it DONE: no-op
    results_before = ItemResult.objects.filter(call=call).count()
    assert calls_reanalyse(calls=Call.objects.filter(pk=call.pk)) == 1
    call_analyse(call_id=call.pk)
    assert CallAnalysis.objects.filter(call=call).count() == 1
    assert ItemResult.objects.filter(call=call).count() == results_before
    assert Scorecard.objects.filter(call=call).count() == len(Scorecard.objects.filter(call=call).values("version"))
    assert Transcript.objects.get(call=call).pk == transcript_id  # the stored transcript was reused


def test_editing_a_checklist_does_not_change_old_results(company, checklists):
    call = transcribed_call_from_fixture(company, "en-01-sale")
    call_analyse(call_id=call.pk)
    sales = checklists[0]
    old = ItemResult.objects.filter(call=call, scorecard__version__checklist=sales).select_related("version_item")
    before = {(r.version_item.criterion, r.version_item.weight, r.answer) for r in old}
    item = ChecklistItem.objects.filter(checklist=sales).first()
    item.criterion, item.weight = "Greets the customer warmly", 10
    item.save()
    assert checklist_publish(checklist=sales).number == 2
    again = ItemResult.objects.filter(call=call, scorecard__version__checklist=sales).select_related("version_item")
    assert {(r.version_item.criterion, r.version_item.weight, r.answer) for r in again} == before
    calls_reanalyse(calls=Call.objects.filter(pk=call.pk))
    call_analyse(call_id=call.pk)
    assert Scorecard.objects.get(call=call, version__checklist=sales).version.number == 2


def test_supervisor_override_recomputes_score_and_keeps_the_original(company, checklists, supervisor):
    call = transcribed_call_from_fixture(company, "ru-04-information")
    call_analyse(call_id=call.pk)
    result = ItemResult.objects.filter(call=call, answer=Answer.NOT_MET).select_related("scorecard").first()
    assert result is not None, "the fixture call misses at least one item"
    score_before = result.scorecard.score
    item_result_override(
        company=company, result_id=result.pk, answer="met", reason="Said it, badly heard", by=supervisor.user
    )
    result.refresh_from_db()
    assert (result.answer, result.source, result.original_answer) == ("met", "human", "not_met")
    assert result.overridden_by == supervisor.user and result.overridden_at is not None
    assert Scorecard.objects.get(pk=result.scorecard_id).score > score_before
    assert Call.objects.get(pk=call.pk).score is not None


def test_override_needs_a_reason_and_a_valid_answer_and_stays_in_company(
    company, other_company, checklists, supervisor
):
    call = transcribed_call_from_fixture(company, "en-04-information")
    call_analyse(call_id=call.pk)
    result = ItemResult.objects.filter(call=call).first()
    with pytest.raises(OverrideInvalid):
        item_result_override(company=company, result_id=result.pk, answer="met", reason=" ", by=supervisor.user)
    with pytest.raises(OverrideInvalid):
        item_result_override(company=company, result_id=result.pk, answer="maybe", reason="x", by=supervisor.user)
    with pytest.raises(ItemResult.DoesNotExist):
        item_result_override(company=other_company, result_id=result.pk, answer="met", reason="x", by=supervisor.user)


def test_critical_item_not_met_flags_auto_fail_and_the_console_filters_it(company, checklists, supervisor_client):
    call = transcribed_call_from_fixture(company, "en-04-information")
    call_analyse(call_id=call.pk)
    critical = ItemResult.objects.filter(call=call, version_item__is_critical=True).first()
    item_result_override(company=company, result_id=critical.pk, answer="not_met", reason="No next step", by=None)
    assert Call.objects.get(pk=call.pk).auto_fail is True
    page = supervisor_client.get("/admin/calls/call/?auto_fail__exact=1").content.decode()
    assert call.pbx_call_id in page or "AUTO-FAIL" in page


def test_low_confidence_transcript_never_auto_fails_and_asks_for_review(company, checklists):
    call = transcribed_call_from_fixture(company, "uz-02-complaint")
    Transcript.objects.filter(call=call).update(low_confidence=True)  # e.g. Uzbek read by the offline engine
    call = call_analyse(call_id=call.pk)
    assert call.status == CallStatus.DONE
    assert (call.auto_fail, call.needs_review) == (False, True)
    assert not Scorecard.objects.filter(call=call, auto_fail=True).exists()


def test_reanalysis_keeps_every_supervisor_correction_and_records_the_machines_new_answer(
    company, checklists, supervisor, supervisor_client
):
    call = transcribed_call_from_fixture(company, "ru-04-information")
    call_analyse(call_id=call.pk)
    result = ItemResult.objects.filter(call=call, answer=Answer.NOT_MET).select_related("scorecard").first()
    item_result_override(
        company=company, result_id=result.pk, answer="met", reason="Said it, badly heard", by=supervisor.user
    )
    corrected_score = Scorecard.objects.get(pk=result.scorecard_id).score
    call_score = Call.objects.get(pk=call.pk).score

    assert calls_reanalyse(calls=Call.objects.filter(pk=call.pk)) == 1
    call_analyse(call_id=call.pk)

    again = ItemResult.objects.get(call=call, version_item=result.version_item)
    assert (again.answer, again.source) == ("met", "human")  # the supervisor's answer is still the answer
    assert (again.original_answer, again.original_source) == ("not_met", "rules")  # the machine's new answer
    assert again.overridden_by == supervisor.user and again.override_reason == "Said it, badly heard"
    assert again.scorecard.score == corrected_score
    assert Call.objects.get(pk=call.pk).score == call_score
    page = supervisor_client.get(f"/admin/calls/call/{call.pk}/change/").content.decode()
    assert "the machine disagrees with the supervisor" in page


def test_reanalysis_against_a_new_version_keeps_corrections_of_unchanged_items(company, checklists, supervisor):
    call = transcribed_call_from_fixture(company, "ru-04-information")
    call_analyse(call_id=call.pk)
    result = ItemResult.objects.filter(call=call, answer=Answer.NOT_MET).select_related("version_item").first()
    item_result_override(company=company, result_id=result.pk, answer="met", reason="heard it", by=supervisor.user)
    checklist = result.version_item.version.checklist
    other = ChecklistItem.objects.filter(checklist=checklist).exclude(pk=result.version_item.source_item_id).first()
    other.weight += 1  # another item changes: a new version, where the corrected item is the same question
    other.save()
    assert checklist_publish(checklist=checklist).number == 2
    calls_reanalyse(calls=Call.objects.filter(pk=call.pk))
    call_analyse(call_id=call.pk)
    again = ItemResult.objects.get(
        call=call, version_item__version__number=2, version_item__source_item_id=result.version_item.source_item_id
    )
    assert (again.answer, again.source, again.override_reason) == ("met", "human", "heard it")


def test_the_call_keeps_its_analysis_sentiment_and_outcome_for_the_figures(company, checklists):
    call = call_analyse(call_id=transcribed_call_from_fixture(company, "ru-02-complaint").pk)
    analysis = CallAnalysis.objects.get(call=call)
    assert (call.customer_sentiment, call.outcome) == (analysis.customer_sentiment, analysis.outcome)
    assert call.customer_sentiment in ("negative", "neutral", "positive") and call.outcome
