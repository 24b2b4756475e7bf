"""PII redaction for uz (Latin and Cyrillic), ru and en call text.

Pure functions: no database, no settings, no network. `redact_text` replaces what it finds with a label:

- ``[CARD]``: payment card numbers (13-19 digits, Luhn-checked), written as one run, as digit groups separated by
  spaces, dashes or dots, or spoken as digit words ("восемь шесть ноль ноль ...", "sakkiz olti nol nol ...").
- ``[PHONE]``: Uzbek phone numbers: ``+998 90 123 45 67``, ``998901234567``, ``90 123 45 67``, ``(90) 123-45-67``,
  ``8 90 123 45 67``, ``901234567`` (when the operator code is a known one).
- ``[PASSPORT]``: Uzbek passports and ID cards, two letters and seven digits (``AA1234567``, ``АА 1234567``).
- ``[PINFL]``: the 14-digit personal number (first digit 1-6, the day/month/year of birth after it is a real date).
- ``[EMAIL]``: e-mail addresses.

Precision over recall: amounts (``1 500 000 so'm``), dates, times and order numbers that fail Luhn stay as they are.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

CARD, PHONE, PASSPORT, PINFL, EMAIL = "CARD", "PHONE", "PASSPORT", "PINFL", "EMAIL"
LABELS: tuple[str, ...] = (CARD, PHONE, PASSPORT, PINFL, EMAIL)
_LABEL_RE = re.compile(r"\[(?:CARD|PHONE|PASSPORT|PINFL|EMAIL)\]")


@dataclass(frozen=True, slots=True)
class PiiSpan:
    start: int
    end: int
    label: str  # one of LABELS
    text: str  # the original characters text[start:end]


# ---------------------------------------------------------------------------------------------------------- e-mail
_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)
# Spoken e-mail from speech-to-text: "ali sobaka gmail tochka com", "ali at gmail dot com".
_SPOKEN_EMAIL_RE = re.compile(
    r"(?<![\w])[\w.-]{2,64}\s+(?:at|собака|сабака|sobaka|kuchukcha)\s+[A-Za-z0-9-]{2,63}"
    r"\s+(?:dot|точка|tochka|nuqta|нуқта)\s+(?:com|ru|uz|net|org|io|info)(?![\w])",
    re.IGNORECASE,
)

# ---------------------------------------------------------------------------------------------------------- passport
# Latin A-Z and the Cyrillic capitals that STT or a typist may put instead (АВСЕНКМОРТХ look Latin; others too).
_PASSPORT_RE = re.compile(r"(?<![\w])([A-ZА-ЯЁЎҚҒҲ]{2}|[a-z]{2})(?: ?№ ?| |-)?(\d{7})(?![\w])")

# ---------------------------------------------------------------------------------------------------------- digits
# A run of digit groups: groups of digits joined by one separator (space, dash, or a bracket pair for phones); never
# part of a date, a time, a decimal or a fraction (12.05.2024, 14:30, 1,5, 2024/15).
# The plus sign is kept so +998 is seen.
_RUN_RE = re.compile(r"(?<![\w+])(?<!\d[.,/:])\+?\(?\d+\)?(?:(?:[ \u00a0\-]|\)\s?|\s?\()\(?\d+\)?)*(?![\w]|[.,/:]\d)")
_GROUP_RE = re.compile(r"\d+")

# Uzbek operator and area codes (the two digits after +998).
_UZ_CODES = frozenset(
    {
        "20",
        "33",
        "50",
        "55",
        "61",
        "62",
        "65",
        "66",
        "67",
        "69",
        "70",
        "71",
        "72",
        "73",
        "74",
        "75",
        "76",
        "77",
        "78",
        "79",
        "88",
        "90",
        "91",
        "93",
        "94",
        "95",
        "97",
        "98",
        "99",
    }
)


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn check (cards)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _pinfl_ok(digits: str) -> bool:
    """14 digits: century/sex digit 1-6, then DDMMYY of birth (a real date)."""
    if len(digits) != 14 or digits[0] not in "123456":
        return False
    day, month = int(digits[1:3]), int(digits[3:5])
    year = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}[digits[0]] + int(digits[5:7])
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _card_ok(digits: str) -> bool:
    """Luhn-valid, with a length its brand uses: 16-19 (Uzcard 8600, Humo 9860, Visa, Mastercard, Mir, UnionPay),
    15 (American Express 34/37), 14 (Diners 30/36/38), 13 (old Visa)."""
    n = len(digits)
    if not 13 <= n <= 19 or len(set(digits)) < 2 or not luhn_ok(digits):
        return False
    if n >= 16:
        return digits[0] in "2345689"
    if n == 15:
        return digits[:2] in ("34", "37")
    if n == 14:
        return digits[:2] in ("30", "36", "38")
    return digits[0] == "4"


def _phone_ok(groups: list[str], plus: bool, parenthesised: bool) -> bool:
    digits = "".join(groups)
    if len(digits) == 12 and digits.startswith("998"):
        return digits[3:5] in _UZ_CODES and (plus or groups[0] in ("998",) or len(groups) == 1 or groups[0] == "998")
    if len(digits) == 10 and digits[0] == "8" and groups[0] == "8":  # old domestic prefix: 8 90 123 45 67
        return digits[1:3] in _UZ_CODES and len(groups) >= 3
    if len(digits) != 9 or digits[:2] not in _UZ_CODES or plus:
        return False
    if len(groups) == 1:
        return True  # 901234567
    if parenthesised:
        return True
    sizes = [len(g) for g in groups]
    # 90 123 45 67, 90 123 4567, 90 1234567, 90-123-45-67; never 901 234 567 (reads as an amount).
    return sizes[0] == 2 and sizes in ([2, 3, 2, 2], [2, 3, 4], [2, 7], [2, 3, 2, 2])


def _classify_window(groups: list[str], plus: bool, parenthesised: bool) -> str | None:
    digits = "".join(groups)
    if _phone_ok(groups, plus, parenthesised):
        return PHONE
    if plus or parenthesised:
        return None
    if len(digits) == 14 and _pinfl_ok(digits) and (len(groups) == 1 or not _card_ok(digits)):
        return PINFL
    if _card_ok(digits) and (len(groups) == 1 or all(len(g) <= 6 for g in groups)):
        # One run, or groups as people read them (4-4-4-4, 4-6-5, pairs and triples when spoken).
        if len(groups) > 1 and _looks_like_amount(groups):
            return None
        return CARD
    return None


def _looks_like_amount(groups: list[str]) -> bool:
    """'1 500 000 000 000 000' style thousands groups are money, not a card."""
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]) and set("".join(groups[1:])) <= {"0"}


# A number right after these words is a tax id, a bank code or an account, never a phone or a card.
_NOT_PII_BEFORE = re.compile(
    r"(?:\b(?:инн|inn|stir|стир|мфо|mfo|счёт|счет|hisob raqam|ҳисоб рақам|account|iban|swift|bik|бик)\W{0,3})$",
    re.IGNORECASE,
)


def _digit_runs(text: str) -> Iterable[PiiSpan]:
    for run in _RUN_RE.finditer(text):
        if _NOT_PII_BEFORE.search(text[max(0, run.start() - 20) : run.start()]):
            continue
        groups = [(m.start() + run.start(), m.end() + run.start(), m.group()) for m in _GROUP_RE.finditer(run.group())]
        i = 0
        while i < len(groups):
            found = None
            # Longest window first from this group; at most 19 digits in a card, 12 in a phone.
            for j in range(len(groups), i, -1):
                window = groups[i:j]
                n = sum(len(g[2]) for g in window)
                if n > 19 or n < 9:
                    continue
                start, end = window[0][0], window[-1][1]
                plus = start > 0 and text[start - 1] == "+"
                if plus:
                    start -= 1
                raw = text[start:end]
                parenthesised = "(" in raw or (start > 0 and text[start - 1] == "(")
                if parenthesised and start > 0 and text[start - 1] == "(":
                    start -= 1
                label = _classify_window([g[2] for g in window], plus, parenthesised)
                if label:
                    found = PiiSpan(start, end, label, text[start:end])
                    i = j
                    break
            if found:
                yield found
            else:
                i += 1


# ---------------------------------------------------------------------------------------------------------- words
# Digits spoken as words (what a transcript holds): single digits and, for ru/uz/en, tens and hundreds so that
# "девяносто сто двадцать три сорок пять шестьдесят семь" becomes 90 123 45 67.
_UNITS = {
    # en
    "zero": 0,
    "oh": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    # ru
    "ноль": 0,
    "нуль": 0,
    "один": 1,
    "одна": 1,
    "два": 2,
    "две": 2,
    "три": 3,
    "четыре": 4,
    "пять": 5,
    "шесть": 6,
    "семь": 7,
    "восемь": 8,
    "девять": 9,
    # uz Latin (with and without the apostrophe STT drops)
    "nol": 0,
    "bir": 1,
    "ikki": 2,
    "uch": 3,
    "to'rt": 4,
    "tort": 4,
    "toʻrt": 4,
    "to`rt": 4,
    "besh": 5,
    "olti": 6,
    "yetti": 7,
    "etti": 7,
    "sakkiz": 8,
    "to'qqiz": 9,
    "toqqiz": 9,
    "toʻqqiz": 9,
    "to`qqiz": 9,
    # uz Cyrillic
    "нол": 0,
    "бир": 1,
    "икки": 2,
    "уч": 3,
    "тўрт": 4,
    "торт": 4,
    "беш": 5,
    "олти": 6,
    "етти": 7,
    "саккиз": 8,
    "тўққиз": 9,
    "тоққиз": 9,
}
_TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "десять": 10,
    "одиннадцать": 11,
    "двенадцать": 12,
    "тринадцать": 13,
    "четырнадцать": 14,
    "пятнадцать": 15,
    "шестнадцать": 16,
    "семнадцать": 17,
    "восемнадцать": 18,
    "девятнадцать": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "двадцать": 20,
    "тридцать": 30,
    "сорок": 40,
    "пятьдесят": 50,
    "шестьдесят": 60,
    "семьдесят": 70,
    "восемьдесят": 80,
    "девяносто": 90,
    "o'n": 10,
    "on": 10,
    "oʻn": 10,
    "yigirma": 20,
    "o'ttiz": 30,
    "ottiz": 30,
    "oʻttiz": 30,
    "qirq": 40,
    "ellik": 50,
    "oltmish": 60,
    "yetmish": 70,
    "sakson": 80,
    "to'qson": 90,
    "toqson": 90,
    "toʻqson": 90,
    "ўн": 10,
    "йигирма": 20,
    "ўттиз": 30,
    "қирқ": 40,
    "эллик": 50,
    "олтмиш": 60,
    "етмиш": 70,
    "саксон": 80,
    "тўқсон": 90,
}
_HUNDREDS = {
    "сто": 100,
    "двести": 200,
    "триста": 300,
    "четыреста": 400,
    "пятьсот": 500,
    "шестьсот": 600,
    "семьсот": 700,
    "восемьсот": 800,
    "девятьсот": 900,
}
_HUNDRED_WORDS = {"hundred", "yuz", "юз"}
_FILLERS = {"and", "-", ","}
_WORD_RE = re.compile(r"[\w'ʻ`’]+|\d+", re.UNICODE)


def _norm_word(word: str) -> str:
    return word.lower().replace("’", "'").replace("ʻ", "'").replace("`", "'")


def _number_groups(words: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Turn a run of number words into digit groups: each spoken number (0-999) is one group."""
    groups: list[tuple[int, int, str]] = []
    i = 0
    while i < len(words):
        start, end, w = words[i]
        w = _norm_word(w)
        if w.isdigit():
            groups.append((start, end, w))
            i += 1
            continue
        value = None
        width = 0
        j = i
        # hundreds: "сто", "двести" ... or "<unit> hundred" / "<unit> yuz" / "yuz"
        if w in _HUNDREDS:
            value, j = _HUNDREDS[w], i + 1
        elif w in _HUNDRED_WORDS:
            value, j = 100, i + 1
        elif w in _UNITS and i + 1 < len(words) and _norm_word(words[i + 1][2]) in _HUNDRED_WORDS:
            value, j = _UNITS[w] * 100, i + 2
        if value is not None:
            width = 3
            if j < len(words) and _norm_word(words[j][2]) == "and":
                j += 1
            rest, j2 = _tens_units(words, j)
            value += rest or 0
            j = j2
        else:
            rest, j = _tens_units(words, i)
            if rest is None:
                break
            value = rest
            width = 1 if (w in _UNITS) else 2
        groups.append((start, words[j - 1][1], str(value).zfill(width)))
        i = j
    return groups


def _tens_units(words: list[tuple[int, int, str]], i: int) -> tuple[int | None, int]:
    if i >= len(words):
        return None, i
    w = _norm_word(words[i][2])
    if w in _TEENS:
        return _TEENS[w], i + 1
    if w in _TENS:
        value, i = _TENS[w], i + 1
        if i < len(words) and _norm_word(words[i][2]) in _UNITS and _UNITS[_norm_word(words[i][2])] > 0:
            value += _UNITS[_norm_word(words[i][2])]
            i += 1
        return value, i
    if w in _UNITS:
        return _UNITS[w], i + 1
    return None, i


def _is_number_word(word: str) -> bool:
    w = _norm_word(word)
    return w in _UNITS or w in _TEENS or w in _TENS or w in _HUNDREDS or w in _HUNDRED_WORDS


def _word_runs(text: str) -> Iterable[PiiSpan]:
    """Cards and phones spoken as words (at least 9 digits' worth of number words in a row)."""
    tokens = [(m.start(), m.end(), m.group()) for m in _WORD_RE.finditer(text)]
    i = 0
    while i < len(tokens):
        if not _is_number_word(tokens[i][2]):
            i += 1
            continue
        j = i
        run: list[tuple[int, int, str]] = []
        while j < len(tokens) and (
            _is_number_word(tokens[j][2])
            or (tokens[j][2].isdigit() and len(tokens[j][2]) <= 4)
            or (_norm_word(tokens[j][2]) == "and" and run)
        ):
            # stop a run at a sentence break between words
            if run and re.search(r"[.!?;:]", text[run[-1][1] : tokens[j][0]]):
                break
            run.append(tokens[j])
            j += 1
        if len(run) >= 5:
            groups = _number_groups([t for t in run if _norm_word(t[2]) != "and" or True])
            yield from _classify_groups(text, groups)
        i = max(j, i + 1)


def _classify_groups(text: str, groups: list[tuple[int, int, str]]) -> Iterable[PiiSpan]:
    i = 0
    while i < len(groups):
        hit = None
        for j in range(len(groups), i, -1):
            window = groups[i:j]
            digits = "".join(g[2] for g in window)
            if not 9 <= len(digits) <= 19:
                continue
            label = None
            if len(digits) == 12 and digits.startswith("998") and digits[3:5] in _UZ_CODES:
                label = PHONE
            elif len(digits) == 9 and digits[:2] in _UZ_CODES:
                label = PHONE
            elif len(digits) == 14 and _pinfl_ok(digits):
                label = PINFL
            elif _card_ok(digits):
                label = CARD
            if label:
                hit = PiiSpan(window[0][0], window[-1][1], label, text[window[0][0] : window[-1][1]])
                i = j
                break
        if hit:
            yield hit
        else:
            i += 1


# ---------------------------------------------------------------------------------------------------------- API
def find_pii(text: str, *, labels: Iterable[str] | None = None) -> list[PiiSpan]:
    """Every PII span in ``text``, sorted, non-overlapping (earlier and longer spans win)."""
    if not text:
        return []
    wanted = set(labels) if labels is not None else set(LABELS)
    candidates: list[PiiSpan] = []
    for m in _EMAIL_RE.finditer(text):
        candidates.append(PiiSpan(m.start(), m.end(), EMAIL, m.group()))
    for m in _SPOKEN_EMAIL_RE.finditer(text):
        candidates.append(PiiSpan(m.start(), m.end(), EMAIL, m.group()))
    for m in _PASSPORT_RE.finditer(text):
        candidates.append(PiiSpan(m.start(), m.end(), PASSPORT, m.group()))
    candidates.extend(_digit_runs(text))
    candidates.extend(_word_runs(text))
    candidates.sort(key=lambda s: (s.start, -(s.end - s.start)))
    spans: list[PiiSpan] = []
    last_end = -1
    for span in candidates:
        if span.start < last_end:
            continue
        # Digits inside an e-mail or an existing label are not a separate hit.
        if _inside_label(text, span):
            continue
        spans.append(span)
        last_end = span.end
    return [s for s in spans if s.label in wanted]


def _inside_label(text: str, span: PiiSpan) -> bool:
    return any(m.start() <= span.start < m.end() for m in _LABEL_RE.finditer(text, max(0, span.start - 10)))


def redact_text(text: str, *, labels: Iterable[str] | None = None) -> str:
    """``text`` with each PII span replaced by its label, e.g. ``"card 8600 1234 ..."`` -> ``"card [CARD]"``.

    ``labels`` limits what is redacted (default: all of LABELS). Idempotent: redacting twice changes nothing more.
    """
    if not text:
        return text
    out: list[str] = []
    pos = 0
    for span in find_pii(text, labels=labels):
        out.append(text[pos : span.start])
        out.append(f"[{span.label}]")
        pos = span.end
    out.append(text[pos:])
    return "".join(out)
