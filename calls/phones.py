"""Customer phone numbers to E.164. Uzbek numbers arrive as 9 local digits, 998..., +998..., 0 9..., with spaces/dashes.

Short internal extensions are not customer numbers and normalise to "" (the raw value is always kept beside).
"""

import re

import phonenumbers

DEFAULT_REGION = "UZ"
_NOT_DIGITS = re.compile(r"\D")
MAX_EXTENSION_DIGITS = 6


def _pre_normalise(raw: str) -> str:
    text = raw.strip()
    plus = text.startswith("+") or text.startswith("00")
    digits = _NOT_DIGITS.sub("", text)
    if text.startswith("00"):
        digits = digits[2:]
    if plus:
        return "+" + digits
    if len(digits) == 9:  # local Uzbek mobile/landline without the country code
        return "+998" + digits
    if len(digits) == 10 and digits.startswith("0"):  # trunk prefix 0 before the 9 local digits
        return "+998" + digits[1:]
    if len(digits) == 12 and digits.startswith("998"):
        return "+" + digits
    if len(digits) == 11 and digits.startswith(("7", "8")) and digits[1] in "3489":  # Russia/Kazakhstan as dialled
        return "+7" + digits[1:]
    return "+" + digits if len(digits) > 10 else digits


def normalise_phone(raw: str | None) -> str:
    """E.164 ("+998901234567") or "" when the value is empty, an internal extension or not a valid number."""
    if not raw:
        return ""
    digits = _NOT_DIGITS.sub("", raw)
    if len(digits) <= MAX_EXTENSION_DIGITS:
        return ""
    try:
        number = phonenumbers.parse(_pre_normalise(raw), DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
