"""Analysis bench: per-call overhead without the model's latency, LLM requests per call, offline agreement.

    DJANGO_SETTINGS_MODULE=dialix.settings.test .venv/bin/python bench/analysis.py     (make bench)

1. Overhead of `call_analyse` excluding the model: building the request from the stored transcript and 3 checklists
   of 15 items, verifying every evidence quote, computing scores, replacing the results in one transaction. The
   analyser is a replay of a recorded answer (a real Analyzer class that answers at once), so the time is ours alone.
   The same run with the offline rules is printed beside it. Goal: <= 50 ms per call.
2. Requests to the LLM per analysed call, with the OpenAI analyzer against the fake OpenAI server. Goal: exactly 1.
3. The offline analyser against the ground-truth labels of the synthetic calls: precision/recall per item kind.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dialix.settings.test")

import django  # noqa: E402

django.setup()

from ingest import bench_database, goal  # noqa: E402  (same throwaway-database helper)

RUNS = 30
CHECKLISTS, ITEMS = 3, 15
FIXTURE = "ru-01-sale"


class ReplayAnalyzer:
    """Answers every request at once with a fixed, plausible verdict per item (quotes taken from the transcript)."""

    name = "replay:bench"

    def analyze(self, request):
        from integrations.llm.base import Analysis, ItemVerdict, Usage

        operator_turns = [t for t in request.turns if t.speaker == "operator"]
        verdicts = []
        for index, item in enumerate(request.items):
            turn = operator_turns[index % len(operator_turns)]
            answer = "met" if index % 3 else "not_met"
            quote = " ".join(turn.text.split()[:6]) if answer == "met" else ""
            verdicts.append(ItemVerdict(item.key, answer, quote, "operator", turn.start_ms, "replayed"))
        return Analysis(
            engine=self.name,
            summary="Replayed summary.",
            customer_sentiment="neutral",
            customer_sentiment_reason="replayed",
            operator_sentiment="positive",
            operator_sentiment_reason="replayed",
            purpose="order",
            outcome="sale",
            topics=("order",),
            customer_satisfied=True,
            verdicts=tuple(verdicts),
            usage=Usage(prompt_tokens=1000, completion_tokens=400, requests=1),
        )


def _setup():
    from calls.tests.factories import transcribed_call_from_fixture
    from checklists.models import Checklist, ChecklistItem, ChecklistSection
    from checklists.services import checklist_publish
    from companies.services import company_create
    from integrations.llm.offline_eval import standard_items

    company = company_create(name="Dialix Market", slug="bench-analysis", languages=["ru", "en", "uz"])
    specs = standard_items("ru")
    for n in range(CHECKLISTS):
        checklist = Checklist.objects.create(company=company, name=f"Checklist {n + 1}")
        section = ChecklistSection.objects.create(company=company, checklist=checklist, title="All")
        for i in range(ITEMS):
            spec = specs[i % len(specs)]
            ChecklistItem.objects.create(
                company=company,
                checklist=checklist,
                section=section,
                criterion=spec.criterion,
                example_phrases="\n".join(spec.examples),
                weight=1 + i % 3,
                is_critical=i == 0,
                order=i,
            )
        checklist_publish(checklist=checklist)
    return company, transcribed_call_from_fixture(company, FIXTURE)


def _ready(call) -> None:
    """Back to TRANSCRIBED without queueing a task (calls_reanalyse would run one in process, default engine)."""
    from calls.models import Call, CallStatus

    Call.objects.filter(pk=call.pk).update(status=CallStatus.TRANSCRIBED)


def _analyse(call, engine: str) -> float:
    from checklists.models import CallAnalysis
    from checklists.services import call_analyse

    _ready(call)
    start = time.perf_counter()
    done = call_analyse(call_id=call.pk, engine=engine)
    elapsed = (time.perf_counter() - start) * 1000
    assert done.status == "done", done.failure_reason
    assert CallAnalysis.objects.get(call=call).engine.split(":")[0] == engine  # really analysed by that engine
    return elapsed


def _time_analyses(call, engine: str) -> list[float]:
    return [_analyse(call, engine) for _ in range(RUNS)]


def run() -> None:
    from django.conf import settings

    from checklists.models import ItemResult
    from integrations.llm import registry
    from integrations.llm.fake_chat import FakeOpenAIWithChat
    from integrations.llm.offline_eval import evaluate_offline

    registry.ANALYZERS["replay"] = "analysis.ReplayAnalyzer"
    company, call = _setup()
    items = CHECKLISTS * ITEMS

    print(f"1. overhead per call, {CHECKLISTS} checklists x {ITEMS} items, {RUNS} runs (model latency excluded)")
    replay = _time_analyses(call, "replay")
    median, p95 = statistics.median(replay), sorted(replay)[int(len(replay) * 0.95) - 1]
    print(f"   replayed model answer: median {median:.1f} ms, p95 {p95:.1f} ms   (goal <= 50 ms: {goal(median <= 50)})")
    assert ItemResult.objects.filter(call=call).count() == items
    offline = _time_analyses(call, "offline")
    print(f"   offline rules (analysis itself included): median {statistics.median(offline):.1f} ms")

    print("\n2. requests to the LLM per analysed call (OpenAI analyzer, fake OpenAI server over HTTP)")
    with FakeOpenAIWithChat() as fake:
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = fake.api_key, fake.base_url
        calls = 10
        http_ms = []
        for _ in range(calls):
            http_ms.append(_analyse(call, "openai"))
        sent = len(fake.chat.requests())
        per_call = sent / calls
        print(f"   {sent} requests for {calls} calls: {per_call:g} per call   (goal 1: {goal(per_call == 1)})")
        print(f"   whole analysis with the local fake model: median {statistics.median(http_ms):.1f} ms")

    print("\n3. offline analyser vs ground truth of the synthetic calls (fixtures/calls)")
    report = evaluate_offline(ROOT / "fixtures" / "calls")
    print(f"   {'item kind':<22} {'precision':>9} {'recall':>7} {'F1':>6}  (tp/fp/fn)")
    for kind, row in report["items"].items():
        print(
            f"   {kind:<22} {row['precision']:>9.2f} {row['recall']:>7.2f} {row['f1']:>6.2f}  "
            f"({row['tp']}/{row['fp']}/{row['fn']})"
        )
    for key in ("customer_sentiment", "outcome"):
        print(f"   {key.replace('_', ' ')}: {report[key]['correct']}/{report[key]['total']} calls right")
    print(
        "   NB: the phrase lists were written against these same 12 calls, so this is agreement, not accuracy on "
        "unseen calls (see README)."
    )


def main() -> None:
    with bench_database() as name:
        print(f"bench database: {name} (dropped at the end)\n")
        run()


if __name__ == "__main__":
    main()
