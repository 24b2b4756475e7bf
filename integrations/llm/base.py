"""Call analysis as plain values: a speaker-labelled transcript and checklist items in, an Analysis out.

Analyzers only *judge*; they never compute scores (checklists.scoring does, in code) and their evidence is checked
against the transcript before it is stored (checklists.evidence)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Answer = Literal["met", "not_met", "na"]
Sentiment = Literal["negative", "neutral", "positive"]
OUTCOMES = ("sale", "agreed", "callback", "refused", "not_resolved", "information", "other")


@dataclass(frozen=True, slots=True)
class TurnText:
    speaker: Literal["operator", "customer"]
    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True, slots=True)
class ItemSpec:
    key: str  # stable id of the checklist item version, echoed back in the verdict
    checklist: str
    section: str
    criterion: str  # what to check, in any of uz/ru/en
    critical: bool = False
    allow_na: bool = False
    examples: tuple[str, ...] = ()  # phrases that satisfy the item
    speaker: Literal["operator", "customer", "any"] = "operator"  # whose words satisfy it


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    turns: tuple[TurnText, ...]
    items: tuple[ItemSpec, ...]
    answer_language: str  # the company's language for summary and reasons: uz / ru / en
    company_name: str = ""
    direction: str | None = None  # inbound / outbound
    transcript_language: str | None = None
    # The words are not reliable (e.g. Uzbek read by the offline recogniser): judge nothing that depends on them.
    low_confidence: bool = False


@dataclass(frozen=True, slots=True)
class ItemVerdict:
    key: str
    answer: Answer
    evidence_quote: str = ""  # words from the transcript that prove the answer ("" when none)
    evidence_speaker: str | None = None
    evidence_ms: int | None = None  # where the quote starts in the call
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    cost_usd: float | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    engine: str
    summary: str
    customer_sentiment: Sentiment
    customer_sentiment_reason: str
    operator_sentiment: Sentiment
    operator_sentiment_reason: str
    purpose: str
    outcome: str  # one of OUTCOMES
    topics: tuple[str, ...]
    customer_satisfied: bool | None
    verdicts: tuple[ItemVerdict, ...]
    usage: Usage = field(default_factory=Usage)


class Analyzer(Protocol):
    name: str  # e.g. "offline:rules-v2", "openai:gpt-4o-mini"

    def analyze(self, request: AnalysisRequest) -> Analysis: ...


def items_by_key(items: Sequence[ItemSpec]) -> dict[str, ItemSpec]:
    return {item.key: item for item in items}
