import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from calls.metrics import compute_metrics

CALLS = Path(__file__).resolve().parents[2] / "fixtures" / "calls"


@dataclass
class W:
    start_ms: int
    end_ms: int
    speaker: str


def _say(speaker: str, start_ms: int, end_ms: int, words: int) -> list[W]:
    step = (end_ms - start_ms) // words
    return [W(start_ms + i * step, start_ms + (i + 1) * step - 50, speaker) for i in range(words)]


def test_metrics_of_a_simple_two_turn_call():
    words = _say("operator", 1000, 5000, 10) + _say("customer", 7000, 9000, 4)
    m = compute_metrics(words, duration_ms=10_000)
    assert m.operator_talk_seconds == pytest.approx(3.95, abs=0.01)
    assert m.customer_talk_seconds == pytest.approx(1.95, abs=0.01)
    assert m.talk_ratio == pytest.approx(3.95 / 5.9, abs=0.001)
    assert m.longest_silence_seconds == pytest.approx(2.05, abs=0.01)  # 4950 -> 7000
    assert m.silence_share == pytest.approx(1 - 5.9 / 10, abs=0.001)
    assert m.first_operator_word_seconds == 1.0
    assert m.overtalk_seconds == 0 and m.interruptions == 0
    assert m.operator_words_per_minute == pytest.approx(10 / (3.95 / 60), rel=0.01)
    assert m.longest_customer_monologue_seconds == pytest.approx(1.95, abs=0.01)


def test_customer_cutting_in_is_overtalk_and_an_interruption():
    words = _say("operator", 0, 6000, 12) + _say("customer", 4000, 8000, 8)
    m = compute_metrics(words, duration_ms=8000)
    assert m.overtalk_seconds == pytest.approx(1.95, abs=0.06)
    assert m.interruptions == 1


def test_a_short_backchannel_is_not_an_interruption():
    words = _say("operator", 0, 6000, 12) + [W(3000, 3200, "customer")]  # "aha", 200 ms
    assert compute_metrics(words, duration_ms=6000).interruptions == 0


def test_no_operator_speech_gives_empty_ratios_not_errors():
    m = compute_metrics(_say("customer", 0, 3000, 5), duration_ms=3000)
    assert (m.talk_ratio, m.operator_words_per_minute, m.first_operator_word_seconds) == (0.0, None, None)
    assert compute_metrics([], duration_ms=0).silence_share is None


@pytest.mark.parametrize("call_id", ["en-01-sale", "ru-02-complaint"])
def test_metrics_match_ground_truth_turn_times(call_id):
    truth = json.loads((CALLS / f"{call_id}.json").read_text())
    words = []
    for turn in truth["turns"]:
        start, end = int(turn["start"] * 1000), int(turn["end"] * 1000)
        words += _say(turn["speaker"], start, end, max(1, len(turn["text"].split())))
    m = compute_metrics(words, duration_ms=int(truth["duration_seconds"] * 1000))
    expected_operator = sum(t["end"] - t["start"] for t in truth["turns"] if t["speaker"] == "operator")
    assert m.operator_talk_seconds == pytest.approx(expected_operator, rel=0.05)
    assert m.first_operator_word_seconds == pytest.approx(truth["turns"][0]["start"], abs=0.05)
