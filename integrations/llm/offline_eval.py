"""How well the offline analyzer agrees with the labelled fixture calls, and the standard items it is judged on.

Used by the tests, `bench/analysis.py` and the demo checklists. Returns data; prints nothing.
"""

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from integrations.llm.base import Analysis, AnalysisRequest, ItemSpec, TurnText
from integrations.llm.offline import OfflineAnalyzer

FIXTURE_COMPANY = "Dialix Market"  # the company every synthetic call names (scripts/test_calls.json)

# key -> criterion per language. Keys are the fixtures' label names, so a verdict is compared with labels[key].
_CRITERIA = {
    "greeting": {
        "en": "The operator greeted the customer",
        "ru": "Оператор поприветствовал клиента",
        "uz": "Operator mijoz bilan salomlashdi",
    },
    "company_name": {
        "en": "The operator named the company",
        "ru": "Оператор назвал компанию",
        "uz": "Operator kompaniya nomini aytdi",
    },
    "operator_introduced": {
        "en": "The operator introduced themselves by name",
        "ru": "Оператор представился по имени",
        "uz": "Operator o'zini tanishtirdi",
    },
    "asked_customer_name": {
        "en": "The operator asked the customer's name",
        "ru": "Оператор спросил имя клиента",
        "uz": "Operator mijozning ismini so'radi",
    },
    "offered_help": {
        "en": "The operator offered help",
        "ru": "Оператор предложил помощь",
        "uz": "Operator yordam taklif qildi",
    },
    "confirmed_next_step": {
        "en": "The operator confirmed the next step",
        "ru": "Оператор подтвердил следующий шаг",
        "uz": "Operator keyingi qadamni tasdiqladi",
    },
    "farewell": {
        "en": "The operator said goodbye",
        "ru": "Оператор попрощался",
        "uz": "Operator xayrlashdi",
    },
    "operator_polite": {
        "en": "The operator was polite",
        "ru": "Оператор был вежлив",
        "uz": "Operator xushmuomala bo'ldi",
    },
}
_SECTIONS = {
    "greeting": "opening",
    "company_name": "opening",
    "operator_introduced": "opening",
    "asked_customer_name": "opening",
    "offered_help": "handling",
    "confirmed_next_step": "handling",
    "farewell": "closing",
    "operator_polite": "handling",
}
ITEM_KINDS = tuple(_CRITERIA)
LANGUAGES = ("en", "ru", "uz")


def standard_items(language: str = "en", *, checklist: str = "Standard") -> list[ItemSpec]:
    """The eight standard items with criteria in one of en / ru / uz and no example phrases (the rules alone)."""
    return [
        ItemSpec(key=key, checklist=checklist, section=_SECTIONS[key], criterion=criteria[language])
        for key, criteria in _CRITERIA.items()
    ]


def load_fixture_calls(calls_dir: Path) -> list[dict[str, Any]]:
    """Every ground-truth call in the folder (the `<id>.json` files with turns), in file-name order."""
    calls = []
    for path in sorted(calls_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "turns" in data and "labels" in data:
            calls.append(data)
    return calls


def fixture_turns(call: dict[str, Any]) -> tuple[TurnText, ...]:
    return tuple(
        TurnText(
            speaker=turn["speaker"],
            start_ms=round(turn["start"] * 1000),
            end_ms=round(turn["end"] * 1000),
            text=turn["text"],
        )
        for turn in call["turns"]
    )


def fixture_request(
    call: dict[str, Any], items: Iterable[ItemSpec], *, answer_language: str | None = None
) -> AnalysisRequest:
    return AnalysisRequest(
        turns=fixture_turns(call),
        items=tuple(items),
        answer_language=answer_language or call["language"],
        company_name=FIXTURE_COMPANY,
        direction=call.get("direction"),
        transcript_language=call["language"],
    )


def _scores(pairs: list[tuple[bool, bool]]) -> dict[str, Any]:
    """Precision / recall / F1 of predicting `met` (True) against the label (True = the operator did it)."""
    tp = sum(predicted and expected for predicted, expected in pairs)
    fp = sum(predicted and not expected for predicted, expected in pairs)
    fn = sum(expected and not predicted for predicted, expected in pairs)
    tn = len(pairs) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return {
        "n": len(pairs),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "agreement": (tp + tn) / len(pairs) if pairs else None,
    }


def evaluate_offline(calls_dir: Path, *, criteria_language: str | None = None) -> dict[str, Any]:
    """Agreement of the offline analyzer with the fixture labels.

    Criteria are written in each call's own language unless `criteria_language` is given. `None` precision or recall
    means undefined (nothing predicted, or nothing to find). `mismatches` lists every disagreement for inspection."""
    analyzer = OfflineAnalyzer()
    pairs: dict[str, list[tuple[bool, bool]]] = {kind: [] for kind in ITEM_KINDS}
    by_language: dict[str, dict[str, list[tuple[bool, bool]]]] = {}
    sentiment_hits: list[bool] = []
    outcome_hits: list[bool] = []
    mismatches: list[dict[str, Any]] = []
    calls = load_fixture_calls(calls_dir)
    for call in calls:
        language, labels = call["language"], call["labels"]
        analysis: Analysis = analyzer.analyze(fixture_request(call, standard_items(criteria_language or language)))
        for verdict in analysis.verdicts:
            pair = (verdict.answer == "met", bool(labels[verdict.key]))
            pairs[verdict.key].append(pair)
            by_language.setdefault(language, {kind: [] for kind in ITEM_KINDS})[verdict.key].append(pair)
            if pair[0] != pair[1]:
                mismatches.append(
                    {"call": call["id"], "item": verdict.key, "expected": pair[1], "answer": verdict.answer}
                )
        sentiment_hits.append(analysis.customer_sentiment == labels["customer_sentiment"])
        outcome_hits.append(analysis.outcome == labels["outcome"])
        for name, got, expected in (
            ("customer_sentiment", analysis.customer_sentiment, labels["customer_sentiment"]),
            ("outcome", analysis.outcome, labels["outcome"]),
        ):
            if got != expected:
                mismatches.append({"call": call["id"], "item": name, "expected": expected, "answer": got})
    return {
        "engine": analyzer.name,
        "calls": len(calls),
        "items": {kind: _scores(kind_pairs) for kind, kind_pairs in pairs.items()},
        "by_language": {
            language: {kind: _scores(kind_pairs) for kind, kind_pairs in kinds.items()}
            for language, kinds in sorted(by_language.items())
        },
        "customer_sentiment": {"correct": sum(sentiment_hits), "total": len(sentiment_hits)},
        "outcome": {"correct": sum(outcome_hits), "total": len(outcome_hits)},
        "mismatches": mismatches,
    }
