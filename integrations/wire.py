"""Small helpers the external-system clients share: settings fallback and describing what a vendor sent."""

import math
from typing import Any

# JSON's own names, so a message reads the same whichever client raised it ("is a list, not an object").
_TYPE_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def setting(name: str, default: Any) -> Any:
    """A Django setting, or ``default`` when it is unset or Django is not configured."""
    # Read only for what the caller did not pass, so tests and scripts work without Django settings.
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return getattr(settings, name, default)
    except ImproperlyConfigured:
        return default


def is_number(value: Any) -> bool:
    """A finite int or float; booleans are not numbers here."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def type_name(value: Any) -> str:
    """What a decoded JSON value is, with its article: 'an object', 'a list', 'a string', 'a number', 'null'."""
    return _TYPE_NAMES.get(type(value), f"a {type(value).__name__}")


def snippet(value: str | bytes, limit: int) -> str:
    """A vendor's text (or body) for a message: whitespace collapsed, at most ``limit`` characters ("…" if cut)."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
