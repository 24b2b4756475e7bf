"""PII redaction bench: precision and recall of calls.redaction on fixtures/pii/cases.jsonl, per label and overall,
and per language; then the time to redact a long transcript.

    .venv/bin/python bench/pii.py            (no database, no Django settings needed)
    .venv/bin/python bench/pii.py --misses   (also list every miss and every false hit)

A hit counts when its label is right and it covers every character the case marks for that item; anything else the
redactor replaces is a false positive. Goals: precision >= 0.98 (amounts, dates and order numbers stay readable),
recall >= 0.95 on written forms.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from calls.redaction import LABELS, find_pii  # noqa: E402

CASES = ROOT / "fixtures" / "pii" / "cases.jsonl"


def load_cases(path: Path = CASES) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score_case(case: dict) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """(true positives, false positives, false negatives) as (label, text) pairs."""
    text = case["text"]
    expected = []
    for label, fragment in case["expect"]:
        start = text.index(fragment)
        expected.append((label, start, start + len(fragment), fragment))
    found = find_pii(text)
    matched_expected: set[int] = set()
    tp, fp = [], []
    for span in found:
        hit = next(
            (
                i
                for i, (label, start, end, _) in enumerate(expected)
                if i not in matched_expected and label == span.label and span.start <= start and end <= span.end
            ),
            None,
        )
        if hit is None:
            fp.append((span.label, span.text))
        else:
            matched_expected.add(hit)
            tp.append((span.label, span.text))
    fn = [(label, fragment) for i, (label, _, _, fragment) in enumerate(expected) if i not in matched_expected]
    return tp, fp, fn


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "  -  "


def main(argv: list[str]) -> int:
    cases = load_cases()
    counts: dict[str, Counter] = defaultdict(Counter)  # label -> tp/fp/fn
    by_lang: dict[str, Counter] = defaultdict(Counter)
    misses: list[str] = []
    for case in cases:
        tp, fp, fn = score_case(case)
        for label, _ in tp:
            counts[label]["tp"] += 1
            by_lang[case["lang"]]["tp"] += 1
        for label, text in fp:
            counts[label]["fp"] += 1
            by_lang[case["lang"]]["fp"] += 1
            misses.append(f"  false {label:<8} {case['lang']:<7} {case['form']}: {text!r}")
        for label, text in fn:
            counts[label]["fn"] += 1
            by_lang[case["lang"]]["fn"] += 1
            misses.append(f"  missed {label:<7} {case['lang']:<7} {case['form']}: {text!r}")
    negatives = sum(1 for c in cases if not c["expect"])
    print(f"PII redaction on {CASES.relative_to(ROOT)}: {len(cases)} cases ({negatives} negatives)")
    print(f"{'label':<10}{'items':>6}{'tp':>5}{'fp':>5}{'fn':>5}{'precision':>11}{'recall':>8}")
    total = Counter()
    for label in LABELS:
        c = counts[label]
        total.update(c)
        items = c["tp"] + c["fn"]
        print(
            f"{label:<10}{items:>6}{c['tp']:>5}{c['fp']:>5}{c['fn']:>5}"
            f"{_ratio(c['tp'], c['tp'] + c['fp']):>11}{_ratio(c['tp'], items):>8}"
        )
    items = total["tp"] + total["fn"]
    print(
        f"{'overall':<10}{items:>6}{total['tp']:>5}{total['fp']:>5}{total['fn']:>5}"
        f"{_ratio(total['tp'], total['tp'] + total['fp']):>11}{_ratio(total['tp'], items):>8}"
    )
    print("per language:")
    for lang in sorted(by_lang):
        c = by_lang[lang]
        print(
            f"  {lang:<8} precision {_ratio(c['tp'], c['tp'] + c['fp'])}  recall {_ratio(c['tp'], c['tp'] + c['fn'])}"
        )
    if "--misses" in argv and misses:
        print("misses and false hits:")
        print("\n".join(misses))
    # Speed: a 30-minute call is about 600 turns; redact them all.
    turns = [case["text"] for case in cases] * 8
    started = time.perf_counter()
    for text in turns:
        find_pii(text)
    elapsed = time.perf_counter() - started
    print(f"speed: {len(turns)} turns in {elapsed * 1000:.0f} ms ({elapsed / len(turns) * 1e6:.0f} µs per turn)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
