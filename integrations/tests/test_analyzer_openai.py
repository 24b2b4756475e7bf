"""The OpenAI analyzer against the fake OpenAI over real HTTP (no mocks), on a real fixture call's transcript."""

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checklists.evidence import check_verdict
from integrations.errors import (
    AuthFailed,
    BadResponse,
    PermanentIntegrationError,
    RateLimited,
    TransientIntegrationError,
)
from integrations.llm.base import OUTCOMES, AnalysisRequest, ItemSpec, TurnText, items_by_key
from integrations.llm.errors import SchemaViolation
from integrations.llm.fake_chat import HALLUCINATED_QUOTE, REFUSAL, FakeOpenAIWithChat, strict_schema_problem
from integrations.llm.openai_analyzer import OpenAIAnalyzer, analysis_schema, build_messages
from integrations.llm.registry import get_analyzer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TRUTH = json.loads((FIXTURES / "calls" / "en-01-sale.json").read_text())
TURNS = tuple(
    TurnText(t["speaker"], round(t["start"] * 1000), round(t["end"] * 1000), t["text"]) for t in TRUTH["turns"]
)
ITEMS = (
    ItemSpec("101", "Sales script", "Opening", "Greets the customer", examples=("good morning", "hello")),
    ItemSpec("102", "Sales script", "Opening", "Says the company name", critical=True, examples=("Dialix Market",)),
    ItemSpec("103", "Sales script", "Needs", "Asks the customer's name", examples=("may I have your name",)),
    ItemSpec("104", "Sales script", "Closing", "Says goodbye", examples=("goodbye", "have a nice day")),
    ItemSpec("105", "Sales script", "Needs", "The customer gives their name", speaker="customer", examples=("Miller",)),
    ItemSpec("106", "Sales script", "Complaint", "Apologises for the problem", allow_na=True),
)
REQUEST = AnalysisRequest(
    turns=TURNS,
    items=ITEMS,
    answer_language="ru",
    company_name="Dialix Market",
    direction="inbound",
    transcript_language="en",
)
CHAT = "/v1/chat/completions"


@pytest.fixture(autouse=True)
def _fresh_format_memory():
    """The format a server took is remembered per base URL for the process; a later fake on a reused port must not
    inherit an earlier test's answer."""
    from integrations.llm import openai_analyzer

    openai_analyzer._FORMAT_BY_BASE_URL.clear()
    yield
    openai_analyzer._FORMAT_BY_BASE_URL.clear()


@pytest.fixture
def fake() -> Iterator[FakeOpenAIWithChat]:
    with FakeOpenAIWithChat() as server:
        yield server


def make_analyzer(fake: FakeOpenAIWithChat, **kwargs: Any) -> OpenAIAnalyzer:
    kwargs.setdefault("api_key", fake.api_key)
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("input_usd_per_mtok", 0.15)
    kwargs.setdefault("output_usd_per_mtok", 0.60)
    return OpenAIAnalyzer(base_url=fake.base_url, model="gpt-4o-mini", **kwargs)


def valid_answer(fake: FakeOpenAIWithChat) -> dict[str, Any]:
    return fake.chat.build_answer(build_messages(REQUEST)[1]["content"])


# --- a good answer ----------------------------------------------------------------------------------------------------


def test_analyze_returns_a_verdict_for_every_item_with_usage_and_cost_in_one_request(fake: FakeOpenAIWithChat) -> None:
    fake.chat.usage = (1342, 86)

    analysis = make_analyzer(fake).analyze(REQUEST)

    assert analysis.engine == "openai:gpt-4o-mini"
    assert [v.key for v in analysis.verdicts] == [item.key for item in ITEMS]
    by_key = {v.key: v for v in analysis.verdicts}
    assert (by_key["102"].answer, by_key["102"].evidence_quote) == ("met", "Dialix Market")
    assert (by_key["102"].evidence_speaker, by_key["102"].evidence_ms) == ("operator", 400)
    assert (by_key["105"].answer, by_key["105"].evidence_speaker) == ("met", "customer")
    assert (by_key["106"].answer, by_key["106"].evidence_quote, by_key["106"].evidence_speaker) == ("na", "", None)
    assert analysis.outcome == "sale" and analysis.outcome in OUTCOMES
    assert (analysis.customer_sentiment, analysis.customer_satisfied) == ("positive", True)
    assert analysis.summary.startswith("Разговор")  # the fake answers in the requested language
    assert analysis.topics == ("Обращение клиента",)
    assert (analysis.usage.prompt_tokens, analysis.usage.completion_tokens, analysis.usage.requests) == (1342, 86, 1)
    assert analysis.usage.cost_usd == pytest.approx((1342 * 0.15 + 86 * 0.60) / 1_000_000)
    assert len(fake.chat.requests()) == 1
    # Every verdict of a correct answer survives our own evidence check unchanged.
    items = items_by_key(ITEMS)
    assert [check_verdict(v, items[v.key], TURNS).answer for v in analysis.verdicts] == [
        "met",
        "met",
        "met",
        "met",
        "met",
        "na",
    ]


def test_the_request_carries_the_strict_schema_the_transcript_the_items_and_the_language(
    fake: FakeOpenAIWithChat,
) -> None:
    make_analyzer(fake).analyze(REQUEST)

    [request] = fake.chat.requests()
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    body = request.json()
    assert body["model"] == "gpt-4o-mini"
    assert body["temperature"] == 0
    assert body["max_completion_tokens"] >= 1500
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert (response_format["json_schema"]["name"], response_format["json_schema"]["strict"]) == ("call_analysis", True)
    schema = response_format["json_schema"]["schema"]
    assert strict_schema_problem(schema, "()") is None  # what OpenAI checks before generating
    assert schema["additionalProperties"] is False and set(schema["required"]) == set(schema["properties"])
    verdict = schema["properties"]["verdicts"]["items"]
    assert verdict["properties"]["key"]["enum"] == [item.key for item in ITEMS]
    assert verdict["properties"]["answer"]["enum"] == ["met", "not_met", "na"]
    assert verdict["properties"]["evidence_speaker"]["enum"] == ["operator", "customer", "none"]
    assert verdict["properties"]["evidence_time_ms"]["type"] == ["integer", "null"]
    assert schema["properties"]["outcome"]["enum"] == list(OUTCOMES)
    [system, user] = body["messages"]
    assert (system["role"], user["role"]) == ("system", "user")
    assert "Russian" in system["content"] and "verbatim" in system["content"]
    assert "Answer language: Russian (ru)" in user["content"]
    assert "[0.4s] OPERATOR: Good morning, thank you for calling Dialix Market." in user["content"]
    assert "[14.9s] CUSTOMER: It's David Miller." in user["content"]
    for item in ITEMS:
        assert f'"key": "{item.key}"' in user["content"]
    assert '"allow_na": true' in user["content"] and '"speaker": "customer"' in user["content"]


def test_the_model_is_never_asked_for_a_score(fake: FakeOpenAIWithChat) -> None:
    make_analyzer(fake).analyze(REQUEST)

    schema_text = json.dumps(fake.chat.bodies()[0]["response_format"]).lower()
    assert not any(word in schema_text for word in ("score", "points", "grade", "weight", "percent"))


def test_a_strict_server_would_reject_a_schema_with_an_open_object() -> None:
    schema = copy.deepcopy(analysis_schema(ITEMS))
    del schema["properties"]["verdicts"]["items"]["additionalProperties"]

    assert "additionalProperties" in strict_schema_problem(schema, "()")


def test_settings_choose_the_model_server_key_and_prices(fake: FakeOpenAIWithChat, settings: Any) -> None:
    settings.OPENAI_API_KEY = fake.api_key
    settings.OPENAI_BASE_URL = fake.base_url
    settings.DIALIX_OPENAI_ANALYSIS_MODEL = "gpt-4.1-mini"
    settings.DIALIX_LLM_INPUT_USD_PER_MTOK = 0.40
    settings.DIALIX_LLM_OUTPUT_USD_PER_MTOK = 1.60
    fake.chat.usage = (1000, 500)

    analyzer = get_analyzer("openai")
    analysis = analyzer.analyze(REQUEST)

    assert analyzer.name == analysis.engine == "openai:gpt-4.1-mini"
    assert fake.chat.bodies()[0]["model"] == "gpt-4.1-mini"
    assert analysis.usage.cost_usd == pytest.approx(0.0012)
    assert fake.api_key not in repr(analyzer)


def test_reasoning_models_get_no_temperature_they_would_reject(fake: FakeOpenAIWithChat) -> None:
    analysis = OpenAIAnalyzer(api_key=fake.api_key, base_url=fake.base_url, model="o4-mini", timeout=5).analyze(REQUEST)

    assert analysis.engine == "openai:o4-mini"
    assert "temperature" not in fake.chat.bodies()[0]


def test_cost_is_unknown_without_prices(fake: FakeOpenAIWithChat, settings: Any) -> None:
    settings.DIALIX_LLM_INPUT_USD_PER_MTOK = None
    settings.DIALIX_LLM_OUTPUT_USD_PER_MTOK = None

    analysis = make_analyzer(fake, input_usd_per_mtok=None, output_usd_per_mtok=None).analyze(REQUEST)

    assert analysis.usage.cost_usd is None
    assert analysis.usage.prompt_tokens > 0 and analysis.usage.requests == 1


# --- answers the analyzer passes on, and our evidence check catches --------------------------------------------------


def test_hallucinated_evidence_comes_back_as_given_and_the_evidence_check_sends_it_to_review(
    fake: FakeOpenAIWithChat,
) -> None:
    fake.chat.answer_next("hallucinated")

    analysis = make_analyzer(fake).analyze(REQUEST)

    verdict = analysis.verdicts[0]
    assert (verdict.key, verdict.answer, verdict.evidence_quote) == ("101", "met", HALLUCINATED_QUOTE)
    checked = check_verdict(verdict, items_by_key(ITEMS)["101"], TURNS)
    assert checked.answer == "needs_review"
    assert "not found in the transcript" in checked.reason


def test_evidence_from_the_wrong_speaker_is_sent_to_review(fake: FakeOpenAIWithChat) -> None:
    fake.chat.answer_next("wrong_speaker")

    analysis = make_analyzer(fake).analyze(REQUEST)

    verdict = analysis.verdicts[0]
    assert (verdict.answer, verdict.evidence_speaker) == ("met", "operator")  # the model's claim, passed on
    checked = check_verdict(verdict, items_by_key(ITEMS)["101"], TURNS)
    assert (checked.answer, checked.evidence_speaker) == ("needs_review", "customer")


# --- answers that are not an analysis ---------------------------------------------------------------------------------


def test_malformed_json_raises_bad_response_not_schema_violation(fake: FakeOpenAIWithChat) -> None:
    fake.chat.answer_next("malformed")

    with pytest.raises(BadResponse, match="not valid JSON") as caught:
        make_analyzer(fake).analyze(REQUEST)

    assert not isinstance(caught.value, SchemaViolation)
    assert "Dialix" not in str(caught.value)  # the stored reason never quotes the call
    assert len(fake.chat.requests()) == 1  # the service retries, not the analyzer


@pytest.mark.parametrize(
    ("mode", "message"),
    [("truncated", "cut off at the output token limit"), ("refusal", f"refused to analyse the call: {REFUSAL}")],
)
def test_truncated_or_refused_answers_raise_bad_response(fake: FakeOpenAIWithChat, mode: str, message: str) -> None:
    fake.chat.answer_next(mode)

    with pytest.raises(BadResponse, match=message):
        make_analyzer(fake).analyze(REQUEST)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("schema_missing_verdicts", "the answer lacks verdicts"),
        ("schema_unknown_item", "verdicts\\[0\\] is for unknown item key 'no-such-item'"),
        ("schema_missing_item", "No verdict for item keys '106'"),
        ("schema_duplicate_item", "verdicts\\[6\\] repeats item key '101'"),
        ("schema_bad_enum", "verdicts\\[0\\].answer is 'partially'; expected one of met, not_met, na"),
    ],
)
def test_schema_violations_raise_schema_violation_naming_the_problem(
    fake: FakeOpenAIWithChat, mode: str, message: str
) -> None:
    fake.chat.answer_next(mode)

    with pytest.raises(SchemaViolation, match=message):
        make_analyzer(fake).analyze(REQUEST)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(outcome="won"), "outcome is 'won'; expected one of sale"),
        (lambda a: a.update(customer_sentiment="angry"), "customer_sentiment is 'angry'"),
        (lambda a: a.update(customer_satisfied="yes"), "customer_satisfied is a string"),
        (lambda a: a.update(topics="pricing"), "topics is not a list of strings"),
        (lambda a: a.update(score=87), "the answer has unexpected score"),
        (lambda a: a["verdicts"][2].update(evidence_time_ms="12s"), "verdicts\\[2\\].evidence_time_ms is '12s'"),
        (lambda a: a["verdicts"][2].update(evidence_speaker="agent"), "verdicts\\[2\\].evidence_speaker is 'agent'"),
        (lambda a: a["verdicts"][1].pop("reason"), "verdicts\\[1\\] lacks reason"),
    ],
)
def test_wrong_types_and_values_raise_schema_violation(fake: FakeOpenAIWithChat, change: Any, message: str) -> None:
    answer = valid_answer(fake)
    change(answer)
    fake.chat.answer_next("raw", content=json.dumps(answer))

    with pytest.raises(SchemaViolation, match=message):
        make_analyzer(fake).analyze(REQUEST)


def test_a_json_list_instead_of_an_object_is_a_schema_violation(fake: FakeOpenAIWithChat) -> None:
    fake.chat.answer_next("raw", content="[]")

    with pytest.raises(SchemaViolation, match="a list, not a JSON object"):
        make_analyzer(fake).analyze(REQUEST)


def test_an_html_page_instead_of_a_completion_raises_bad_response(fake: FakeOpenAIWithChat) -> None:
    fake.fail_next(1, "garbage", CHAT)

    with pytest.raises(BadResponse, match="not JSON"):
        make_analyzer(fake).analyze(REQUEST)


# --- transport failures -----------------------------------------------------------------------------------------------


def test_http429_raises_rate_limited_with_retry_after_and_the_next_call_succeeds(fake: FakeOpenAIWithChat) -> None:
    fake.fail_next(1, "http429", CHAT)
    analyzer = make_analyzer(fake)

    with pytest.raises(RateLimited) as caught:
        analyzer.analyze(REQUEST)
    analysis = analyzer.analyze(REQUEST)

    assert caught.value.retry_after == 7.0
    assert len(analysis.verdicts) == len(ITEMS)
    assert len(fake.chat.requests()) == 2  # one each: the SDK does not retry behind our back


def test_insufficient_quota_is_permanent_not_a_rate_limit(fake: FakeOpenAIWithChat) -> None:
    fake.fail_next(1, "insufficient_quota", CHAT)

    with pytest.raises(PermanentIntegrationError, match="out of credits") as caught:
        make_analyzer(fake).analyze(REQUEST)

    assert not isinstance(caught.value, TransientIntegrationError)


@pytest.mark.parametrize(("mode", "status"), [("http500", "500"), ("http503", "503")])
def test_server_errors_are_transient_and_not_resent(fake: FakeOpenAIWithChat, mode: str, status: str) -> None:
    fake.fail_next(1, mode, CHAT)

    with pytest.raises(TransientIntegrationError, match=f"HTTP {status}") as caught:
        make_analyzer(fake).analyze(REQUEST)

    assert not isinstance(caught.value, RateLimited)
    assert len(fake.chat.requests()) == 1


def test_timeout_is_transient(fake: FakeOpenAIWithChat) -> None:
    fake.timeout_sleep_seconds = 1.5
    fake.fail_next(1, "timeout", CHAT)
    started = time.monotonic()

    with pytest.raises(TransientIntegrationError, match="within 0.5 s"):
        make_analyzer(fake, timeout=0.5).analyze(REQUEST)

    assert time.monotonic() - started < 1.4


def test_unreachable_server_is_transient() -> None:
    with FakeOpenAIWithChat() as gone:
        base_url, key = gone.base_url, gone.api_key  # a port that nothing listens on once the server stops

    with pytest.raises(TransientIntegrationError, match="Cannot connect"):
        OpenAIAnalyzer(api_key=key, base_url=base_url, timeout=2).analyze(REQUEST)


def test_a_wrong_key_raises_auth_failed_without_the_key(fake: FakeOpenAIWithChat) -> None:
    wrong = "sk-wrong-key-0000"

    with pytest.raises(AuthFailed) as caught:
        make_analyzer(fake, api_key=wrong).analyze(REQUEST)

    assert "OPENAI_API_KEY" in str(caught.value)
    assert wrong not in str(caught.value) and "sk-wrong" not in str(caught.value)
    assert caught.value.__cause__ is None  # the SDK's message (masked key included) is not chained either


def test_a_missing_key_raises_auth_failed_before_any_request(fake: FakeOpenAIWithChat, settings: Any) -> None:
    settings.OPENAI_API_KEY = ""

    with pytest.raises(AuthFailed, match="not configured"):
        make_analyzer(fake, api_key="").analyze(REQUEST)

    assert fake.chat.requests() == []


def test_a_wrong_base_url_is_permanent(fake: FakeOpenAIWithChat) -> None:
    analyzer = OpenAIAnalyzer(api_key=fake.api_key, base_url=fake.root_url, timeout=5)  # lacks /v1

    with pytest.raises(PermanentIntegrationError, match="URL is wrong") as caught:
        analyzer.analyze(REQUEST)

    assert not isinstance(caught.value, TransientIntegrationError)


def test_azure_api_version_adds_the_query_and_the_api_key_header(fake: FakeOpenAIWithChat) -> None:
    make_analyzer(fake, api_version="2024-10-21").analyze(REQUEST)

    [request] = fake.chat.requests()
    assert request.query == {"api-version": ["2024-10-21"]}
    assert request.headers["api-key"] == fake.api_key


# --- servers without strict json_schema (llama-cpp-python, older vLLM / Ollama builds) ------------------------------


def test_a_server_that_rejects_json_schema_is_asked_with_json_object_and_remembered(fake):
    fake.chat.accepts = frozenset({"json_object"})  # llama-cpp-python 0.3.36: 500 for json_schema
    analyzer = make_analyzer(fake)

    first = analyzer.analyze(REQUEST)
    second = make_analyzer(fake).analyze(REQUEST)  # another analyzer, the same base URL: detected once

    kinds = [body.get("response_format", {}).get("type") for body in fake.chat.bodies()]
    assert kinds == ["json_schema", "json_object", "json_object"]
    assert fake.chat.bodies()[1]["response_format"]["schema"] == analysis_schema(ITEMS)
    assert [v.key for v in first.verdicts] == [v.key for v in second.verdicts] == [i.key for i in ITEMS]


def test_a_server_without_structured_output_gets_the_schema_in_the_prompt_and_one_retry(fake):
    fake.chat.accepts = frozenset({"none"})
    fake.chat.answer_next("malformed")  # the first plain-JSON answer is cut: asked once more, with the reason
    analysis = make_analyzer(fake).analyze(REQUEST)

    bodies = fake.chat.bodies()
    assert [b.get("response_format", {}).get("type") for b in bodies] == ["json_schema", "json_object", None, None]
    assert "JSON Schema exactly" in bodies[2]["messages"][0]["content"]
    assert bodies[3]["messages"][-1]["role"] == "user" and "JSON object only" in bodies[3]["messages"][-1]["content"]
    assert len(analysis.verdicts) == len(ITEMS)
