"""The analysis pipeline with the OpenAI analyzer against a fake OpenAI server over real HTTP."""

import pytest

from calls.models import Call, CallStatus
from calls.services.analysis import call_analyse, calls_reanalyse
from calls.tasks import call_analyse_task
from calls.tests.factories import transcribed_call_from_fixture
from checklists.demo import demo_checklists
from checklists.models import Answer, CallAnalysis, ItemResult, ResultSource
from integrations.llm.fake_chat import FakeOpenAIWithChat
from integrations.models import EngineSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_openai(settings):
    with FakeOpenAIWithChat() as fake:
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = fake.api_key, fake.base_url
        settings.DIALIX_LLM_INPUT_USD_PER_MTOK, settings.DIALIX_LLM_OUTPUT_USD_PER_MTOK = 0.15, 0.60
        yield fake


@pytest.fixture
def llm_company(company):
    company.name = "Dialix Market"
    company.save()
    demo_checklists(company)
    EngineSettings.objects.create(company=company, analyzer_engine="openai")
    return company


def test_one_request_per_call_with_usage_cost_and_model_answers(fake_openai, llm_company):
    call = transcribed_call_from_fixture(llm_company, "ru-01-sale")
    call = call_analyse(call_id=call.pk)
    assert call.status == CallStatus.DONE
    assert len(fake_openai.chat.requests()) == 1  # every checklist of the call in one request
    analysis = CallAnalysis.objects.get(call=call)
    assert analysis.engine.startswith("openai:") and analysis.llm_requests == 1
    assert analysis.prompt_tokens > 0 and analysis.cost_usd is not None
    results = ItemResult.objects.filter(call=call)
    assert results.filter(source=ResultSource.MODEL).count() == results.count() > 0
    assert results.filter(answer=Answer.MET).exclude(evidence_ms=None).exists()


def test_hallucinated_evidence_becomes_needs_review(fake_openai, llm_company):
    fake_openai.chat.answer_next("hallucinated")
    call = call_analyse(call_id=transcribed_call_from_fixture(llm_company, "en-01-sale").pk)
    reviewed = ItemResult.objects.filter(call=call, answer=Answer.NEEDS_REVIEW)
    assert reviewed.exists() and "not found in the transcript" in reviewed.first().reason
    assert Call.objects.get(pk=call.pk).needs_review is True


def test_malformed_answer_is_retried_once_then_succeeds(fake_openai, llm_company):
    fake_openai.chat.answer_next("malformed")
    call = call_analyse(call_id=transcribed_call_from_fixture(llm_company, "en-01-sale").pk)
    assert call.status == CallStatus.DONE and len(fake_openai.chat.requests()) == 2


@pytest.mark.parametrize("mode", ["malformed", "schema_unknown_item"])
def test_nonsense_twice_fails_the_call_and_keeps_the_earlier_analysis(fake_openai, llm_company, mode):
    call = call_analyse(call_id=transcribed_call_from_fixture(llm_company, "en-01-sale").pk)
    first = CallAnalysis.objects.get(call=call)
    calls_reanalyse(calls=Call.objects.filter(pk=call.pk))
    fake_openai.chat.answer_next(mode, n=2)
    call = call_analyse(call_id=call.pk)
    assert call.status == CallStatus.FAILED and call.failure_code == "analysis_bad_response"
    assert "nonsense twice" in call.failure_reason
    assert CallAnalysis.objects.get(call=call).pk == first.pk  # nothing already stored is lost
    assert ItemResult.objects.filter(call=call).exists()


def test_rate_limit_then_success_through_the_task(fake_openai, llm_company, eager_retries):
    call = transcribed_call_from_fixture(llm_company, "en-03-callback")
    fake_openai.fail_next(1, "http429", path_contains="chat")
    call_analyse_task.delay(call.pk)  # eager: the retry runs at once
    assert Call.objects.get(pk=call.pk).status == CallStatus.DONE
    assert len(fake_openai.chat.requests()) == 2


def test_bad_key_fails_the_call_with_a_clear_reason(fake_openai, llm_company, settings):
    settings.OPENAI_API_KEY = "sk-wrong"
    call = call_analyse(call_id=transcribed_call_from_fixture(llm_company, "en-01-sale").pk)
    assert call.status == CallStatus.FAILED and call.failure_code == "analysis_failed"
    assert "AuthFailed" in call.failure_reason and "sk-wrong" not in call.failure_reason


def test_server_errors_fail_the_call_after_the_last_retry(fake_openai, llm_company, eager_retries):
    call = transcribed_call_from_fixture(llm_company, "en-01-sale")
    fake_openai.fail_next(10, "http500", path_contains="chat")
    call_analyse_task.delay(call.pk)  # every (eager) retry meets a 500 until the last attempt gives up
    call = Call.objects.get(pk=call.pk)
    assert call.status == CallStatus.FAILED and call.failure_code == "analysis_unavailable"


def test_a_low_confidence_transcript_is_not_sent_to_the_model_and_not_scored(fake_openai, llm_company):
    from calls.models import Transcript

    call = transcribed_call_from_fixture(llm_company, "uz-01-sale", talk_ratio=0.6, silence_share=0.1)
    Transcript.objects.filter(call=call).update(low_confidence=True)  # as the offline engine marks Uzbek

    call = call_analyse(call_id=call.pk)

    assert call.status == CallStatus.DONE
    assert fake_openai.chat.requests() == []  # words nobody can trust are neither sent nor paid for
    assert call.score is None and call.needs_review is True
    assert CallAnalysis.objects.get(call=call).engine.startswith("offline:")
    assert (call.talk_ratio, call.silence_share) == (0.6, 0.1)  # the timing figures stay
