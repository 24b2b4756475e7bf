"""The written forms of one phone number, for finding it in a CRM that matches phones exactly.

Pure and dependency-free: calls.phones (E.164 with phonenumbers) sits above integrations, so the adapters keep their own
small rules. Uzbek numbers are 998 + 9 digits (2-digit operator/area code + 7); a CRM holds them as typed:
``+998901234567``, ``998901234567``, ``901234567``, ``+998 90 123 45 67``, ``+998 (90) 123-45-67``, ``8 90 ...``.
"""

from __future__ import annotations

import re

UZ_COUNTRY = "998"
_NOT_DIGITS = re.compile(r"\D")
MIN_DIGITS = 7  # shorter is an internal extension, never a client


def digits_of(raw: str | None) -> str:
    return _NOT_DIGITS.sub("", raw or "")


def uz_core(raw: str | None) -> str:
    """The 9-digit national number of an Uzbek phone in any written form, or "" when it is not one."""
    digits = digits_of(raw)
    if digits.startswith("00"):
        digits = digits[2:]
    if len(digits) == 12 and digits.startswith(UZ_COUNTRY):
        return digits[3:]
    if len(digits) == 9:
        return digits
    if len(digits) == 10 and digits.startswith(("0", "8")):  # a trunk prefix before the 9 digits
        return digits[1:]
    return ""


def phone_key(raw: str | None) -> str:
    """One comparable key per number: ``998`` + the core for Uzbek numbers, else the bare digits ("" if none)."""
    core = uz_core(raw)
    if core:
        return UZ_COUNTRY + core
    digits = digits_of(raw)
    return digits if len(digits) >= MIN_DIGITS else ""


def search_forms(raw: str | None) -> list[str]:
    """The forms to ask an exact-match phone filter for, the common ones first; [] for no usable number."""
    core = uz_core(raw)
    forms: list[str] = []
    if core:
        code, rest = core[:2], core[2:]
        spaced = f"{code} {rest[:3]} {rest[3:5]} {rest[5:]}"
        forms = [
            f"+{UZ_COUNTRY}{core}",
            f"{UZ_COUNTRY}{core}",
            core,
            f"+{UZ_COUNTRY} {spaced}",
            f"+{UZ_COUNTRY} ({code}) {rest[:3]}-{rest[3:5]}-{rest[5:]}",
            f"{UZ_COUNTRY} {spaced}",
            spaced,
        ]
    else:
        digits = digits_of(raw)
        if len(digits) >= MIN_DIGITS:
            forms = [f"+{digits}", digits]
    text = (raw or "").strip()
    if forms and text and text not in forms:
        forms.append(text)
    return forms


def short_forms(raw: str | None) -> list[str]:
    """The three canonical forms (for a normalising search such as crm.duplicate.findbycomm)."""
    return search_forms(raw)[:3]


def masked(raw: str | None) -> str:
    """For logs and messages: the last four digits only."""
    digits = digits_of(raw)
    return f"…{digits[-4:]}" if digits else ""
