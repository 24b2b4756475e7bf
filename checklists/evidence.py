"""Evidence is checked against the transcript before it is stored: a quote nobody said is not a fact."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from integrations.llm.base import ItemSpec, ItemVerdict, TurnText

MIN_RATIO = 0.85  # fuzzy match of the quote against a window of the turn (tolerates punctuation, a changed word ending)
_APOSTROPHES = str.maketrans({c: "'" for c in "ʻʼ`‘’´"})
_NOT_WORD = re.compile(r"[^\w']+")


def _norm(text: str) -> str:
    return _NOT_WORD.sub(" ", text.translate(_APOSTROPHES).lower()).strip()


@dataclass(frozen=True)
class CheckedVerdict:
    answer: str  # met / not_met / na / needs_review
    evidence_quote: str
    evidence_speaker: str
    evidence_ms: int | None
    reason: str


def _similarity(matcher: SequenceMatcher, width: int, turn_tokens: list[str], floor: float) -> float:
    """Best ratio of the quote (matcher's second sequence) against any window of `width` tokens of the turn."""
    best = 0.0
    for start in range(max(1, len(turn_tokens) - width + 1)):
        matcher.set_seq1(" ".join(turn_tokens[start : start + width]))
        # the cheap upper bounds first: most windows are nowhere near the quote
        if matcher.real_quick_ratio() <= max(best, floor) or matcher.quick_ratio() <= max(best, floor):
            continue
        best = max(best, matcher.ratio())
    return best


class TranscriptIndex:
    """The turns of one call, normalised once, so checking 45 verdicts does not re-normalise the call 45 times."""

    def __init__(self, turns: Sequence[TurnText]) -> None:
        self.turns = list(turns)
        self._norm = [_norm(t.text) for t in self.turns]
        self._tokens = [n.split() for n in self._norm]
        self._cache: dict[str, tuple[TurnText | None, float]] = {}

    def find(self, quote: str) -> tuple[TurnText | None, float]:
        """The turn that best contains the quote and how well (1.0 = verbatim after normalisation)."""
        norm = _norm(quote)
        if norm in self._cache:
            return self._cache[norm]
        found: tuple[TurnText | None, float] = (None, 0.0)
        if norm:
            exact = [i for i, text in enumerate(self._norm) if norm in text]
            if exact:
                found = (self.turns[exact[0]], 1.0)
            else:
                matcher = SequenceMatcher(None, autojunk=False)
                matcher.set_seq2(norm)
                width = len(norm.split())
                for index, tokens in enumerate(self._tokens):
                    ratio = _similarity(matcher, width, tokens, floor=MIN_RATIO * 0.9)
                    if ratio > found[1]:
                        found = (self.turns[index], ratio)
        self._cache[norm] = found
        return found


def find_quote(quote: str, turns: Sequence[TurnText] | TranscriptIndex) -> tuple[TurnText | None, float]:
    index = turns if isinstance(turns, TranscriptIndex) else TranscriptIndex(turns)
    return index.find(quote)


def check_verdict(verdict: ItemVerdict, item: ItemSpec, turns: Sequence[TurnText] | TranscriptIndex) -> CheckedVerdict:
    """The verdict as it may be stored: 'met' needs a quote that was really said, by the right side; otherwise the
    item becomes needs_review with the reason. The evidence time is taken from the transcript, not the model."""
    reason = verdict.reason
    if verdict.answer == "na" and not item.allow_na:
        return CheckedVerdict("needs_review", verdict.evidence_quote, "", None, "Not applicable is not allowed here.")
    if verdict.answer != "met" and not verdict.evidence_quote:
        return CheckedVerdict(verdict.answer, "", "", None, reason)
    turn, ratio = find_quote(verdict.evidence_quote, turns)
    if turn is None or ratio < MIN_RATIO:
        if verdict.answer != "met":
            return CheckedVerdict(verdict.answer, "", "", None, reason)  # a loose quote cannot hurt a 'not met'
        return CheckedVerdict(
            "needs_review",
            verdict.evidence_quote,
            verdict.evidence_speaker or "",
            None,
            f"Evidence not found in the transcript (best match {ratio:.0%}); please review. {reason}".strip(),
        )
    if verdict.answer == "met" and item.speaker != "any" and turn.speaker != item.speaker:
        return CheckedVerdict(
            "needs_review",
            verdict.evidence_quote,
            turn.speaker,
            turn.start_ms,
            f"The quote is the {turn.speaker}'s words, but the {item.speaker} must say it. {reason}".strip(),
        )
    return CheckedVerdict(verdict.answer, verdict.evidence_quote, turn.speaker, turn.start_ms, reason)
