"""Scores are computed here, in code, never taken from a model."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MET, NOT_MET, NA, NEEDS_REVIEW = "met", "not_met", "na", "needs_review"


@dataclass(frozen=True)
class ScoredItem:
    answer: str
    weight: int
    is_critical: bool


@dataclass(frozen=True)
class ScoreResult:
    score: float | None  # None when no item applies
    auto_fail: bool
    needs_review: bool
    met_weight: int
    applicable_weight: int


def score_items(items: Iterable[ScoredItem]) -> ScoreResult:
    """score = weight of met items / weight of applicable items × 100.

    Applicable = met or not met. N/A items count on neither side. An item waiting for review counts on neither side
    either (it is unknown, not failed) and flags the scorecard for review. Any critical item not met → auto-fail
    (the score is still shown).
    """
    met = applicable = 0
    auto_fail = needs_review = False
    for item in items:
        if item.answer == MET:
            met += item.weight
            applicable += item.weight
        elif item.answer == NOT_MET:
            applicable += item.weight
            auto_fail |= item.is_critical
        elif item.answer == NEEDS_REVIEW:
            needs_review = True
        elif item.answer != NA:
            raise ValueError(f"unknown answer {item.answer!r}")
    score = round(met / applicable * 100, 1) if applicable else None
    return ScoreResult(score, auto_fail, needs_review, met, applicable)
