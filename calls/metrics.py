"""Call timing metrics from word timings, whatever the engine. Pure functions: milliseconds in, seconds out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

# Words of one side closer than this belong to one stretch of speech (a breath, not a pause).
BRIDGE_MS = 500
# A start inside the other side's speech counts as an interruption only if it overlaps at least this much.
INTERRUPTION_MIN_OVERLAP_MS = 300


class TimedWord(Protocol):
    start_ms: int
    end_ms: int
    speaker: str | None


@dataclass(frozen=True)
class CallMetrics:
    operator_talk_seconds: float
    customer_talk_seconds: float
    talk_ratio: float | None
    silence_share: float | None
    longest_silence_seconds: float
    overtalk_seconds: float
    interruptions: int
    operator_words_per_minute: float | None
    first_operator_word_seconds: float | None
    longest_customer_monologue_seconds: float

    def as_fields(self) -> dict[str, float | int | None]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _intervals(words: Iterable[TimedWord]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for word in sorted(words, key=lambda w: w.start_ms):
        start, end = word.start_ms, max(word.end_ms, word.start_ms)
        if merged and start - merged[-1][1] <= BRIDGE_MS:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def _union(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for start, end in sorted([*a, *b]):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(x, y) for x, y in out]


def _overlap(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> int:
    total, i, j = 0, 0, 0
    while i < len(a) and j < len(b):
        total += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _interruptions(interrupter: Sequence[tuple[int, int]], speaker: Sequence[tuple[int, int]]) -> int:
    count = 0
    for start, end in interrupter:
        for other_start, other_end in speaker:
            if other_start < start < other_end and min(end, other_end) - start >= INTERRUPTION_MIN_OVERLAP_MS:
                count += 1
                break
    return count


def _longest_run(words: Sequence[TimedWord], speaker: str) -> int:
    """Longest stretch of one side's words with no word of the other side in between (a monologue)."""
    longest, run_start, run_end = 0, None, None
    for word in sorted(words, key=lambda w: w.start_ms):
        if word.speaker == speaker:
            run_start = word.start_ms if run_start is None else run_start
            run_end = word.end_ms
            longest = max(longest, run_end - run_start)
        else:
            run_start = run_end = None
    return longest


def compute_metrics(words: Sequence[TimedWord], duration_ms: int) -> CallMetrics:
    operator_words = [w for w in words if w.speaker == "operator"]
    customer_words = [w for w in words if w.speaker == "customer"]
    op, cu = _intervals(operator_words), _intervals(customer_words)
    op_ms, cu_ms = sum(b - a for a, b in op), sum(b - a for a, b in cu)
    speech = _union(op, cu)
    spoken_ms = sum(b - a for a, b in speech)
    gaps = [b[0] - a[1] for a, b in zip(speech, speech[1:], strict=False)]
    return CallMetrics(
        operator_talk_seconds=round(op_ms / 1000, 2),
        customer_talk_seconds=round(cu_ms / 1000, 2),
        talk_ratio=round(op_ms / (op_ms + cu_ms), 3) if op_ms + cu_ms else None,
        silence_share=round(max(0, duration_ms - spoken_ms) / duration_ms, 3) if duration_ms > 0 else None,
        longest_silence_seconds=round(max(gaps, default=0) / 1000, 2),
        overtalk_seconds=round(_overlap(op, cu) / 1000, 2),
        interruptions=_interruptions(op, cu) + _interruptions(cu, op),
        operator_words_per_minute=round(len(operator_words) / (op_ms / 60000), 1) if op_ms else None,
        first_operator_word_seconds=round(min(w.start_ms for w in operator_words) / 1000, 2)
        if operator_words
        else None,
        longest_customer_monologue_seconds=round(_longest_run(words, "customer") / 1000, 2),
    )
