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


# --- the evaluation set (fixtures/eval): calls the rules were not written against ----------------------------------

EVAL_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "eval"
TUNING_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "calls"
_TUNING_WEIGHT = 1  # the tuning calls' standard items all weigh 1


def eval_checklist(calls_dir: Path = EVAL_DIR) -> dict[str, dict[str, Any]]:
    """key -> {criterion: {en, ru}, weight, critical, allow_na}: the checklist of scripts/make_eval_calls.py."""
    return json.loads((calls_dir / "checklist.json").read_text(encoding="utf-8"))


def eval_items(language: str, calls_dir: Path = EVAL_DIR) -> list[ItemSpec]:
    return [
        ItemSpec(
            key=key,
            checklist="Evaluation",
            section="all",
            criterion=spec["criterion"][language],
            critical=spec["critical"],
            allow_na=spec["allow_na"],
        )
        for key, spec in eval_checklist(calls_dir).items()
    ]


def load_eval_calls(calls_dir: Path = EVAL_DIR) -> list[dict[str, Any]]:
    return [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(calls_dir.glob("*.json"))
        if path.name not in ("checklist.json", "index.json", "crosscheck.json")
    ]


def eval_request(call: dict[str, Any], items: Iterable[ItemSpec]) -> AnalysisRequest:
    return AnalysisRequest(
        turns=fixture_turns(call),
        items=tuple(items),
        answer_language=call["language"],
        company_name=call["company_name"],
        direction=call.get("direction"),
        transcript_language=call["language"],
    )


def score_of(answers: dict[str, str], weights: dict[str, int]) -> float | None:
    """The score checklists.scoring computes (met weight / applicable weight x 100), without Django."""
    met = applicable = 0
    for key, answer in answers.items():
        if answer in ("met", "not_met"):
            applicable += weights[key]
            met += weights[key] if answer == "met" else 0
    return round(met / applicable * 100, 1) if applicable else None


def _accuracy(hits: list[bool]) -> dict[str, Any]:
    return {"correct": sum(hits), "total": len(hits), "accuracy": sum(hits) / len(hits) if hits else None}


def measure(analyzer: Any, cases: list[tuple[dict[str, Any], AnalysisRequest, dict[str, str], dict[str, int]]]) -> dict:
    """Accuracy of any Analyzer on labelled cases: (call, request, expected answer per item key, weight per key).

    Item accuracy is per item kind and language (an answer is right when it equals the expected met / not_met / na;
    an `na` on an item that does not allow it is scored as not met, as the service stores it); outcome and customer
    sentiment per call; the mean absolute error of the score over calls where both scores exist."""
    items: dict[str, dict[str, list[bool]]] = {}
    outcome_hits: dict[str, list[bool]] = {}
    sentiment_hits: dict[str, list[bool]] = {}
    errors: dict[str, list[float]] = {}
    mismatches: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    for call, request, expected, weights in cases:
        language = call["language"]
        try:
            analysis: Analysis | None = analyzer.analyze(request)
        except Exception as exc:  # noqa: BLE001  (an LLM's broken answer counts as wrong everywhere, and is listed)
            analysis = None
            failed.append({"call": call["id"], "error": f"{type(exc).__name__}: {exc}"[:200]})
        verdicts = analysis.verdicts if analysis else ()
        allow_na = {item.key: item.allow_na for item in request.items}
        got = {v.key: v.answer if v.answer != "na" or allow_na[v.key] else "not_met" for v in verdicts}
        reasons = {v.key: v.reason for v in verdicts}
        for key, answer in expected.items():
            right = got.get(key) == answer
            items.setdefault(language, {}).setdefault(key, []).append(right)
            if not right:
                mismatches.append({"call": call["id"], "item": key, "expected": answer, "answer": got.get(key),
                                   "reason": reasons.get(key, "")})  # fmt: skip
        labels = call["labels"]
        for name, store, value in (("outcome", outcome_hits, analysis.outcome if analysis else None),
                                   ("customer_sentiment", sentiment_hits,
                                    analysis.customer_sentiment if analysis else None)):  # fmt: skip
            store.setdefault(language, []).append(value == labels[name])
            if value != labels[name]:
                mismatches.append({"call": call["id"], "item": name, "expected": labels[name], "answer": value})
        expected_score, got_score = score_of(expected, weights), score_of(got, weights) if analysis else None
        if expected_score is not None and got_score is not None:
            errors.setdefault(language, []).append(abs(expected_score - got_score))
    every = sorted(items)
    return {
        "engine": analyzer.name,
        "calls": len(cases),
        "items": {lang: {k: _accuracy(v) for k, v in kinds.items()} for lang, kinds in items.items()},
        "item_accuracy": {lang: _accuracy([h for v in items[lang].values() for h in v]) for lang in every},
        "outcome": {lang: _accuracy(outcome_hits[lang]) for lang in every},
        "customer_sentiment": {lang: _accuracy(sentiment_hits[lang]) for lang in every},
        "score_mae": {lang: sum(errors[lang]) / len(errors[lang]) if errors.get(lang) else None for lang in every},
        "all": {
            "item_accuracy": _accuracy([h for kinds in items.values() for v in kinds.values() for h in v]),
            "outcome": _accuracy([h for v in outcome_hits.values() for h in v]),
            "customer_sentiment": _accuracy([h for v in sentiment_hits.values() for h in v]),
            "score_mae": (sum(sum(e) for e in errors.values()) / n) if (n := sum(map(len, errors.values()))) else None,
        },
        "mismatches": mismatches,
        "failed": failed,
    }


def eval_cases(calls_dir: Path = EVAL_DIR) -> list[tuple[dict[str, Any], AnalysisRequest, dict[str, str], dict]]:
    weights = {key: spec["weight"] for key, spec in eval_checklist(calls_dir).items()}
    return [
        (call, eval_request(call, eval_items(call["language"], calls_dir)), call["labels"]["items"], weights)
        for call in load_eval_calls(calls_dir)
    ]


def tuning_cases(calls_dir: Path = TUNING_DIR) -> list[tuple[dict[str, Any], AnalysisRequest, dict[str, str], dict]]:
    """The 12 tuning calls with their standard items (all weigh 1, none allows N/A)."""
    cases = []
    for call in load_fixture_calls(calls_dir):
        expected = {key: "met" if call["labels"][key] else "not_met" for key in ITEM_KINDS}
        weights = dict.fromkeys(ITEM_KINDS, _TUNING_WEIGHT)
        cases.append((call, fixture_request(call, standard_items(call["language"])), expected, weights))
    return cases


def crosscheck_cases(
    calls_dir: Path = TUNING_DIR, eval_dir: Path = EVAL_DIR
) -> list[tuple[dict[str, Any], AnalysisRequest, dict[str, str], dict]]:
    """The tuning calls written by another author, with hand labels for the evaluation checklist (crosscheck.json):
    wording the evaluation generator never produced, on items the tuning calls were not labelled for."""
    labels = json.loads((eval_dir / "crosscheck.json").read_text(encoding="utf-8"))["labels"]
    weights = {key: spec["weight"] for key, spec in eval_checklist(eval_dir).items()}
    cases = []
    for call in load_fixture_calls(calls_dir):
        if call["id"] in labels:
            request = fixture_request(call, eval_items(call["language"], eval_dir))
            cases.append((call, request, labels[call["id"]], weights))
    return cases
