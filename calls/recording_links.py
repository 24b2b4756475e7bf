"""Short-lived signed links to a call's recording for API callers (local storage): the recording page accepts
`?sig=` instead of a login for RECORDING_LINK_MAX_AGE seconds. A bucket gives its own signed URL instead."""

from __future__ import annotations

from django.core import signing

RECORDING_LINK_MAX_AGE = 15 * 60
_SALT = "calls.recording-link"


def recording_link_signature(*, company_id: int, call_id: int) -> str:
    return signing.TimestampSigner(salt=_SALT).sign(f"{company_id}.{call_id}")


def recording_link_company(*, signature: str, call_id: int) -> int | None:
    """The company the signature was made for, when it is valid, recent and for this call; else None."""
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(signature, max_age=RECORDING_LINK_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None
    company_id, _, signed_call = value.partition(".")
    if signed_call != str(call_id) or not company_id.isdigit():
        return None
    return int(company_id)
